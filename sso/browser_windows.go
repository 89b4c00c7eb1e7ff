package sso

// platformOpener is the URL handler that `start` calls, without cmd.exe,
// whose parsing would split the URL at each &.
func platformOpener(func(string) string) (string, []string, error) {
	return "rundll32", []string{"url.dll,FileProtocolHandler"}, nil
}
