package agent

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ProfileNames lists the profiles of the AWS config and credentials files
// (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, else the SDK's default
// paths), for the `load` picker. It only reads section headers: resolving
// a profile is the SDK's job (ResolveSource).
func ProfileNames() []string {
	home, _ := os.UserHomeDir()
	config := os.Getenv("AWS_CONFIG_FILE")
	if config == "" {
		config = filepath.Join(home, ".aws", "config")
	}
	creds := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if creds == "" {
		creds = filepath.Join(home, ".aws", "credentials")
	}
	seen := map[string]bool{}
	for _, f := range []struct {
		path   string
		config bool
	}{{config, true}, {creds, false}} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			continue
		}
		for _, p := range parseProfileSections(data, f.config) {
			seen[p] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// parseProfileSections returns the profile names declared by section
// headers: in the config file "[default]" and "[profile NAME]" (other
// sections such as "[sso-session X]" and "[services X]" are not profiles),
// in the credentials file every "[NAME]".
func parseProfileSections(data []byte, configFile bool) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "[") {
			continue
		}
		end := strings.IndexByte(line, ']')
		if end < 0 {
			continue
		}
		section := strings.TrimSpace(line[1:end])
		switch {
		case section == "":
			continue
		case !configFile:
			names = append(names, section)
		case section == "default":
			names = append(names, section)
		default:
			kind, name, ok := strings.Cut(section, " ")
			if name = strings.TrimSpace(name); ok && kind == "profile" && name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}
