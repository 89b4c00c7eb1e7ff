package sso

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Listing is what one discovery found for one SSO session.
type Listing struct {
	Session      string    `json:"session"`
	StartURL     string    `json:"startUrl"`
	DiscoveredAt time.Time `json:"discoveredAt"`
	Roles        []Role    `json:"roles"`
}

// RoleCache keeps listings in Dir, one file per SSO session, of mode 0600
// in a directory of mode 0700: the list of a person's accounts is nobody
// else's business. A listing is fresh for MaxAge.
type RoleCache struct {
	Dir    string
	MaxAge time.Duration // zero means DefaultRefresh
	Now    func() time.Time
}

// DefaultRefresh is how long a listing is used before it is discovered
// again. Assignments change seldom, and a stale listing costs at most a
// missing or a vanished line in the picker: GetRoleCredentials, not the
// listing, decides what a load gets. `roles --refresh` discovers now.
const DefaultRefresh = 12 * time.Hour

// maxListingFile bounds a cache file: 10,000 accounts (an organization's
// default limit) with 5 roles of about 150 bytes each is 7.5 MB.
const maxListingFile = 16 << 20

// ErrNotCached is returned (wrapped) by Load when there is no usable
// listing: none yet, one for another start URL, or a file that is not
// private or not well-formed (it is replaced on the next Save).
var ErrNotCached = errors.New("no cached listing")

// Path is the file of session's listing, named as the token cache names
// its files (CachePath), so no session name can escape Dir.
func (c *RoleCache) Path(session string) string { return CachePath(c.Dir, session) }

// Load returns the cached listing of session, fresh or not, if it was
// discovered for startURL.
func (c *RoleCache) Load(session, startURL string) (Listing, error) {
	path := c.Path(session)
	data, err := readPrivateFile(path, maxListingFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Listing{}, fmt.Errorf("sso: role cache %s: %w", path, ErrNotCached)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return Listing{}, fmt.Errorf("sso: role cache: %w", err)
	}
	if err != nil {
		return Listing{}, fmt.Errorf("sso: role cache %s: %w: %w", path, err, ErrNotCached)
	}
	l, err := ParseListing(data)
	if err != nil {
		return Listing{}, fmt.Errorf("sso: role cache %s: %w: %w", path, err, ErrNotCached)
	}
	if l.Session != session || l.StartURL != startURL {
		return Listing{}, fmt.Errorf("sso: role cache %s: discovered for another session or start URL: %w", path, ErrNotCached)
	}
	return l, nil
}

// Fresh reports whether l was discovered less than MaxAge ago.
func (c *RoleCache) Fresh(l Listing) bool {
	age := c.now().Sub(l.DiscoveredAt)
	return age >= 0 && age < c.maxAge()
}

// Save writes l, replacing the file atomically so a reader never sees
// half a listing.
func (c *RoleCache) Save(l Listing) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("sso: role cache: %w", err)
	}
	// The token cache's writer: a directory made 0700, a file 0600.
	return writeFileAtomic(c.Path(l.Session), append(data, '\n'))
}

// Roles returns session's listing: the cached one while it is fresh
// (unless refresh), else a new discovery, which is saved. When discovery
// fails and an older listing exists, that listing is returned with the
// error, for a caller that prefers it to nothing.
func (c *RoleCache) Roles(ctx context.Context, session, startURL string, refresh bool, discover func(context.Context) ([]Role, error)) (Listing, error) {
	cached, err := c.Load(session, startURL)
	haveCached := err == nil
	if haveCached && !refresh && c.Fresh(cached) {
		return cached, nil
	}
	roles, err := discover(ctx)
	if err != nil {
		return cached, err
	}
	l := Listing{Session: session, StartURL: startURL, DiscoveredAt: c.now().UTC(), Roles: roles}
	if err := c.Save(l); err != nil {
		return l, err
	}
	return l, nil
}

// ParseListing parses a cache file. Every role in it must pass ValidRole:
// the file is outside the process, and its roles end up in the picker and
// in load requests.
func ParseListing(data []byte) (Listing, error) {
	if len(data) > maxListingFile {
		return Listing{}, fmt.Errorf("larger than %d bytes", maxListingFile)
	}
	var l Listing
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&l); err != nil {
		return Listing{}, fmt.Errorf("not a listing: %w", err)
	}
	if dec.More() {
		return Listing{}, errors.New("not a listing: data after the object")
	}
	if l.Session == "" || l.DiscoveredAt.IsZero() {
		return Listing{}, errors.New("not a listing: no session or discovery time")
	}
	for i, r := range l.Roles {
		if !ValidRole(r) {
			return Listing{}, fmt.Errorf("role %d: malformed account id or role name", i)
		}
	}
	return l, nil
}

func (c *RoleCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *RoleCache) maxAge() time.Duration {
	if c.MaxAge > 0 {
		return c.MaxAge
	}
	return DefaultRefresh
}
