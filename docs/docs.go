// Package docs is the user documentation of aws-sso-agent, the Markdown
// files in this directory, embedded in the binary so that `aws-sso-agent
// help TOPIC` shows it on a machine that has only the binary.
package docs

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

//go:embed *.md
var files embed.FS

// aliases are topic names people reach for first, for files named
// otherwise.
var aliases = map[string]string{
	"settings": "configuration",
	"config":   "configuration",
	"sdk":      "sdk-compatibility",
	"sdks":     "sdk-compatibility",
	"security": "threat-model",
}

// Topic is one document.
type Topic struct {
	Name    string   // "tls", from tls.md
	Title   string   // its first heading, "TLS that every SDK trusts"
	Aliases []string // other names Lookup takes for it, sorted
}

// Topics lists every document, by name.
func Topics() []Topic {
	entries, _ := fs.ReadDir(files, ".")
	var ts []Topic
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".md")
		if !ok {
			continue
		}
		text, _ := files.ReadFile(e.Name())
		title, _, _ := strings.Cut(string(text), "\n")
		t := Topic{Name: name, Title: strings.TrimSpace(strings.TrimLeft(title, "#"))}
		for alias, target := range aliases {
			if target == name {
				t.Aliases = append(t.Aliases, alias)
			}
		}
		slices.Sort(t.Aliases)
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) })
	return ts
}

// Lookup returns the text of the document name names (a topic or one of
// its aliases, any case, with or without ".md"), and whether there is one.
func Lookup(name string) (string, bool) {
	n := strings.TrimSuffix(strings.ToLower(name), ".md")
	if a, ok := aliases[n]; ok {
		n = a
	}
	if n == "" || strings.ContainsAny(n, "/\\.") {
		return "", false
	}
	text, err := files.ReadFile(n + ".md")
	if err != nil {
		return "", false
	}
	return string(text), true
}
