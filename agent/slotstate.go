package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"unicode"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// The slots file records which source is loaded into which slot, so that
// an agent that restarts (a reboot, a service restart, an upgrade) loads
// them again. It holds what `load` was given, never a credential: profile
// names, sso-session, account and role names, and the paths of the AWS
// config files. It is JSON, mode 0600, replaced atomically on every load
// and unload:
//
//	{
//	  "version": 1,
//	  "slots": [
//	    {"slot": "default", "profile": "dev", "config_file": "/home/me/.aws/config"},
//	    {"slot": "ops", "sso_session": "corp", "account_id": "111122223333", "role_name": "Admin"}
//	  ]
//	}
//
// The file is read by the agent alone, but anyone who can write to the
// config directory can write it, and people edit it by hand: it is parsed
// strictly (ParseSlotState), and a file that does not parse stops no
// agent.

// slotStateVersion is the version of the slots file this agent writes. A
// file of a later version is refused rather than half understood.
const slotStateVersion = 1

// maxSlotState bounds the slots file: an entry is a few hundred bytes, and
// nobody loads a thousand slots.
const (
	maxSlotState      = 256 << 10
	maxSlotStateSlots = 1000
)

// ErrSlotState is matched by every error ParseSlotState returns.
var ErrSlotState = errors.New("invalid slots file")

// SavedSlot is one entry of the slots file: the slot ("" is the default
// slot) and the source loaded into it.
type SavedSlot struct {
	Slot string
	Spec SourceSpec
}

// slotStateFile is the file's JSON form.
type slotStateFile struct {
	Version int `json:"version"`
	// Slots are what load was asked, with the slot named as people see
	// it: "default" for the default slot, a name no named slot can have
	// (wire.ValidateSlotName).
	Slots []LoadRequest `json:"slots"`
}

// MarshalSlotState is the slots file holding saved, default slot first,
// then by name.
func MarshalSlotState(saved []SavedSlot) ([]byte, error) {
	saved = append([]SavedSlot(nil), saved...)
	sort.Slice(saved, func(i, j int) bool { return saved[i].Slot < saved[j].Slot })
	f := slotStateFile{Version: slotStateVersion, Slots: make([]LoadRequest, 0, len(saved))}
	for _, s := range saved {
		f.Slots = append(f.Slots, LoadRequest{
			Slot:            wire.SlotName(s.Slot),
			Profile:         s.Spec.Profile,
			SSOSession:      s.Spec.SSOSession,
			AccountID:       s.Spec.AccountID,
			RoleName:        s.Spec.RoleName,
			ConfigFile:      s.Spec.ConfigFile,
			CredentialsFile: s.Spec.CredentialsFile,
		})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseSlotState parses a slots file. Every entry must name a valid slot,
// once, and a source that passes SourceSpec.Validate, with absolute file
// paths; unknown fields are refused. Errors match ErrSlotState.
func ParseSlotState(data []byte) ([]SavedSlot, error) {
	fail := func(format string, args ...any) ([]SavedSlot, error) {
		return nil, fmt.Errorf("%w: %s", ErrSlotState, fmt.Sprintf(format, args...))
	}
	if len(data) > maxSlotState {
		return fail("larger than %d bytes", maxSlotState)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f slotStateFile
	if err := dec.Decode(&f); err != nil {
		return fail("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail("data after the JSON object")
	}
	switch {
	case f.Version == 0:
		return fail("no version")
	case f.Version > slotStateVersion:
		return fail("version %d, written by a newer agent (this one reads %d)", f.Version, slotStateVersion)
	case f.Version < 0:
		return fail("version %d", f.Version)
	case len(f.Slots) > maxSlotStateSlots:
		return fail("%d slots: at most %d", len(f.Slots), maxSlotStateSlots)
	}
	out := make([]SavedSlot, 0, len(f.Slots))
	seen := make(map[string]bool, len(f.Slots))
	for i, e := range f.Slots {
		name := e.Slot
		if name == wire.DefaultSlot {
			name = ""
		} else if err := wire.ValidateSlotName(name); err != nil {
			return fail("entry %d: %v", i+1, err)
		}
		if seen[name] {
			return fail("entry %d: slot %s is given twice", i+1, wire.QuotedSlotName(name))
		}
		seen[name] = true
		spec := e.spec()
		if err := spec.Validate(); err != nil {
			return fail("entry %d: %v", i+1, err)
		}
		for _, p := range []string{spec.ConfigFile, spec.CredentialsFile} {
			if p != "" && !slotStatePath(p) {
				return fail("entry %d: file %q: want an absolute path", i+1, p)
			}
		}
		out = append(out, SavedSlot{Slot: name, Spec: spec})
	}
	return out, nil
}

// slotStatePath reports whether p may stand as an AWS config file's path:
// absolute, printable, of a length a file system takes.
func slotStatePath(p string) bool {
	if len(p) > 4096 || !filepath.IsAbs(p) {
		return false
	}
	for _, r := range p {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// ReadSlotState reads the slots file at path; a missing file is no slots.
// A file that is not this user's, or that others may write, is refused:
// it says which profiles the agent loads, and so which credential_process
// commands it runs.
func ReadSlotState(path string) ([]SavedSlot, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent: read slots file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("agent: read slots file: %w", err)
	}
	if err := checkPrivateFile(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSlotState+1))
	if err != nil {
		return nil, fmt.Errorf("agent: read slots file: %w", err)
	}
	saved, err := ParseSlotState(data)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", path, err)
	}
	return saved, nil
}

// WriteSlotState replaces the slots file at path with saved, atomically
// (WritePrivateFile: a temporary file in the same directory, mode 0600,
// renamed over the old one).
func WriteSlotState(path string, saved []SavedSlot) error {
	data, err := MarshalSlotState(saved)
	if err != nil {
		return fmt.Errorf("agent: write slots file: %w", err)
	}
	return WritePrivateFile(path, data)
}
