// Package settings reads the agent's settings file: the defaults that
// `serve` and every CLI command take when no flag says otherwise.
//
// The file is CONFIG_DIR/config (see agent.Dirs), in the INI dialect of
// ~/.aws/config, which the people who run this agent already edit:
//
//	# aws-sso-agent settings
//	[default]
//	store = file
//	passphrase_file = ~/.config/aws-sso-agent/passphrase
//	port = 4144
//
// The parser is strict, because a setting that is silently ignored is
// worse than one that is refused: an unknown key, a key given twice, a
// section other than [default] or a value that does not parse is an
// error that names the file and line. Lines starting with # or ; are
// comments. Values are taken as written, without quotes or inline comments,
// as botocore reads ~/.aws/config.
//
// The file holds no secret: the passphrase is in the file passphrase_file
// names, which must be readable by its owner only.
package settings
