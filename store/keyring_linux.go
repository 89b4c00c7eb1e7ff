package store

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"github.com/godbus/dbus/v5"
)

// Hints shared by the errors below. The CLI names the file backend
// "--store file".
const (
	hintStartBus = "start a D-Bus session bus with a Secret Service in it (a desktop session does; headless: " +
		"`dbus-run-session -- sh -c 'gnome-keyring-daemon --unlock --components=secrets; ...'`), or choose --store file"
	hintStartService = "start a Secret Service on this session bus (`gnome-keyring-daemon --unlock --components=secrets`, " +
		"or KeePassXC with Secret Service integration), or choose --store file"
	hintUnlock = "unlock the default keyring (log in to the desktop, or `gnome-keyring-daemon --unlock` reading the password on stdin), " +
		"or choose --store file"
)

// defaultBusSocket is where github.com/godbus/dbus looks for the session bus
// when DBUS_SESSION_BUS_ADDRESS is unset: the socket systemd --user creates.
func defaultBusSocket() string {
	return fmt.Sprintf("/run/user/%d/bus", os.Getuid())
}

// available checks that a session bus can be found before go-keyring is
// called. Without one, godbus would run dbus-launch, which starts a bus
// (and through D-Bus activation a keyring daemon) that outlives us and
// still cannot unlock a keyring; or, without dbus-launch, fail with
// `exec: "dbus-launch": executable file not found`.
func (k *Keyring) available() error {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && addr != "autolaunch:" {
		return nil
	}
	if k.busSocket != "" {
		if _, err := os.Stat(k.busSocket); err == nil {
			return nil
		}
	}
	return &UnavailableError{
		Reason:   fmt.Sprintf("no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset and %s does not exist", k.busSocket),
		HintText: hintStartBus,
	}
}

// unavailable recognises the errors go-keyring and godbus return when the
// Secret Service cannot be used, or returns nil. The messages matched were
// seen with go-keyring v0.2.8, godbus v5.2 and gnome-keyring 42 (FACTS.md).
func unavailable(err error) *UnavailableError {
	var opErr *net.OpError
	switch name := dbusErrorName(err); {
	case errors.Is(err, exec.ErrNotFound) && strings.Contains(err.Error(), "dbus-launch"):
		return &UnavailableError{Reason: "no D-Bus session bus, and dbus-launch is not installed to start one", HintText: hintStartBus, Err: err}
	case strings.Contains(err.Error(), "couldn't determine address of session bus"):
		return &UnavailableError{Reason: "no D-Bus session bus", HintText: hintStartBus, Err: err}
	case strings.Contains(err.Error(), "dbus: invalid bus address"):
		return &UnavailableError{
			Reason:   fmt.Sprintf("DBUS_SESSION_BUS_ADDRESS=%q is not a valid D-Bus address", os.Getenv("DBUS_SESSION_BUS_ADDRESS")),
			HintText: hintStartBus, Err: err,
		}
	case strings.Contains(err.Error(), "dbus: authentication failed"):
		return &UnavailableError{Reason: "the D-Bus session bus refused the connection (another user's bus?)", HintText: hintStartBus, Err: err}
	case errors.As(err, &opErr):
		return &UnavailableError{
			Reason:   fmt.Sprintf("cannot connect to the D-Bus session bus at DBUS_SESSION_BUS_ADDRESS=%q", os.Getenv("DBUS_SESSION_BUS_ADDRESS")),
			HintText: hintStartBus, Err: err,
		}
	case name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
		strings.Contains(err.Error(), "org.freedesktop.secrets was not provided by any .service files"):
		return &UnavailableError{Reason: "no Secret Service (org.freedesktop.secrets) on the session bus", HintText: hintStartService, Err: err}
	case strings.HasPrefix(name, "org.freedesktop.DBus.Error.Spawn."):
		return &UnavailableError{Reason: "the Secret Service (org.freedesktop.secrets) failed to start", HintText: hintStartService, Err: err}
	case name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout":
		return &UnavailableError{Reason: "the Secret Service did not answer", HintText: hintStartService, Err: err}
	case name == "org.freedesktop.Secret.Error.IsLocked" ||
		strings.Contains(err.Error(), "failed to unlock correct collection"):
		// go-keyring's message when the unlock prompt was dismissed or
		// could not be shown (no prompter on a headless machine).
		return &UnavailableError{Reason: "the keyring is locked and was not unlocked (unlock prompt dismissed or no prompter)", HintText: hintUnlock, Err: err}
	}
	return nil
}

// dbusErrorName returns the D-Bus error name in err, or "".
func dbusErrorName(err error) string {
	var v dbus.Error
	if errors.As(err, &v) {
		return v.Name
	}
	var p *dbus.Error
	if errors.As(err, &p) && p != nil {
		return p.Name
	}
	return ""
}
