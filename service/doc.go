// Package service describes aws-sso-agent as a per-user service of the
// platform's own supervisor: a systemd user unit on Linux, a launchd agent
// on macOS, a task that starts at logon on Windows.
//
// The generators (SystemdUnit, LaunchdPlist, TaskXML) are pure functions,
// compiled and tested on every platform; For returns the Plan of this
// platform: where the file goes and which commands install, start, stop
// and show it. The package writes nothing and runs nothing: the CLI does,
// or prints the plan under --dry-run.
//
// No definition carries a secret. The file store's passphrase stays in a
// file readable by its owner alone (mode 0600), named by passphrase_file
// in the settings file or by --passphrase-file in the arguments; never an
// environment variable, which other processes of the same user and crash
// reports can read.
package service
