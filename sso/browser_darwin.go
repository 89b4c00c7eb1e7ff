package sso

// platformOpener is open(1), which hands the URL to the default browser.
func platformOpener(func(string) string) (string, []string, error) {
	return "open", nil, nil
}
