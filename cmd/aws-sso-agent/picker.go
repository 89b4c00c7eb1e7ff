package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/sso"
)

// errPickCancelled is returned when the user leaves the picker.
var errPickCancelled = errors.New("no profile picked")

// pickChoice is one line of the picker: a profile of the AWS config, or a
// role discovered in one of its sso-sessions.
type pickChoice struct {
	label string
	spec  agent.SourceSpec
}

// pickerDiscoveryTimeout bounds the discovery the picker waits for when a
// session's listing is not fresh; a fresh one comes from the cache.
const pickerDiscoveryTimeout = 30 * time.Second

// pickSource runs the interactive picker when stdin is a terminal, and
// otherwise says which flags are missing.
func (c *cli) pickSource() (agent.SourceSpec, error) {
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return agent.SourceSpec{}, usageError{errors.New("no profile given: use --profile PROFILE, or --sso-session S --account ID --role NAME (on a terminal, load with no flags opens a picker)")}
	}
	choices := profileChoices(agent.ProfileNames())
	choices = append(choices, c.roleChoices()...)
	if len(choices) == 0 {
		return agent.SourceSpec{}, withHint(errors.New("no profiles or sso-sessions found in the AWS config"), "add one with: aws configure sso (or set AWS_CONFIG_FILE)")
	}
	choice, err := pickInTerminal(f, c.stderr, choices)
	return choice.spec, err
}

func profileChoices(names []string) []pickChoice {
	choices := make([]pickChoice, len(names))
	for i, n := range names {
		choices[i] = pickChoice{label: n, spec: agent.SourceSpec{Profile: n}}
	}
	return choices
}

// roleChoices lists the roles of every session of the AWS config, as
// `roles` finds them: any role of an [sso-session], and the roles of a
// legacy start URL that a profile names (only a profile loads those). A
// session that cannot be listed (not logged in, no sso_region) is named
// in a note on stderr and left out: its profiles still make a picker.
func (c *cli) roleChoices() []pickChoice {
	sessions, err := sso.Sessions("")
	if err != nil {
		fmt.Fprintf(c.stderr, "aws-sso-agent: note: no discovered roles: %v\n", err)
		return nil
	}
	if len(sessions) == 0 {
		return nil
	}
	cache, err := c.roleCache()
	if err != nil {
		fmt.Fprintf(c.stderr, "aws-sso-agent: note: no discovered roles: %v\n", err)
		return nil
	}
	var choices []pickChoice
	for _, cs := range sessions {
		ctx, cancel := context.WithTimeout(context.Background(), pickerDiscoveryTimeout)
		l, err := c.discoverSession(ctx, cache, cs.Session, false, c.stderr)
		cancel()
		if err != nil {
			fmt.Fprintf(c.stderr, "aws-sso-agent: note: no roles of %s: %v\n", cs.Session, err)
			if hint := agent.ErrorHint(err); hint != "" {
				fmt.Fprintf(c.stderr, "hint: %s\n", hint)
			}
		}
		for _, r := range l.Roles {
			label := r.Label()
			if cs.Name == "" {
				p, ok := cs.ProfileFor(r.AccountID, r.RoleName)
				if !ok {
					continue
				}
				choices = append(choices, pickChoice{label: label + "  [profile " + p + "]", spec: agent.SourceSpec{Profile: p}})
				continue
			}
			if len(sessions) > 1 {
				label += "  [sso-session " + cs.Name + "]"
			}
			choices = append(choices, pickChoice{label: label, spec: agent.SourceSpec{SSOSession: cs.Name, AccountID: r.AccountID, RoleName: r.RoleName}})
		}
	}
	return choices
}

// pickInTerminal puts the terminal in raw mode and lets the user filter
// the choices by typing, move with the arrows (or Ctrl-P/Ctrl-N), pick with
// Enter and leave with Esc or Ctrl-C.
func pickInTerminal(tty *os.File, out io.Writer, choices []pickChoice) (pickChoice, error) {
	old, err := term.MakeRaw(int(tty.Fd()))
	if err != nil {
		return pickChoice{}, fmt.Errorf("picker: %w", err)
	}
	defer term.Restore(int(tty.Fd()), old)
	p := &picker{choices: choices, out: out}
	p.render()
	defer p.clear()
	buf := make([]byte, 256)
	for {
		n, err := tty.Read(buf)
		if err != nil {
			return pickChoice{}, fmt.Errorf("picker: read terminal: %w", err)
		}
		if done, choice, err := p.keys(buf[:n]); done {
			return choice, err
		}
		p.render()
	}
}

// picker is the state of the picker; it draws on out with ANSI escapes,
// redrawing its own lines after each key.
type picker struct {
	choices []pickChoice
	filter  string
	cursor  int
	out     io.Writer
	drawn   int // lines drawn last time, to erase them
	matches []pickChoice
}

const pickerRows = 10

func (p *picker) match() []pickChoice {
	terms := strings.Fields(strings.ToLower(p.filter))
	var m []pickChoice
	for _, n := range p.choices {
		ln := strings.ToLower(n.label)
		ok := true
		for _, t := range terms {
			if !strings.Contains(ln, t) {
				ok = false
				break
			}
		}
		if ok {
			m = append(m, n)
		}
	}
	return m
}

// keys handles one read's worth of input. It reports done with the choice
// (or an error) when the user picks or leaves.
func (p *picker) keys(b []byte) (done bool, choice pickChoice, err error) {
	for len(b) > 0 {
		switch {
		case b[0] == 0x1b && len(b) >= 3 && (b[1] == '[' || b[1] == 'O'):
			switch b[2] {
			case 'A':
				p.move(-1)
			case 'B':
				p.move(1)
			}
			b = b[3:]
			continue
		case b[0] == 0x1b || b[0] == 0x03: // Esc, Ctrl-C
			return true, pickChoice{}, errPickCancelled
		case b[0] == '\r' || b[0] == '\n':
			if len(p.matches) == 0 {
				b = b[1:]
				continue
			}
			return true, p.matches[p.cursor], nil
		case b[0] == 0x10: // Ctrl-P
			p.move(-1)
		case b[0] == 0x0e: // Ctrl-N
			p.move(1)
		case b[0] == 0x7f || b[0] == 0x08: // Backspace
			if p.filter != "" {
				_, size := utf8.DecodeLastRuneInString(p.filter)
				p.setFilter(p.filter[:len(p.filter)-size])
			}
		case b[0] == 0x15: // Ctrl-U
			p.setFilter("")
		default:
			r, size := utf8.DecodeRune(b)
			if r != utf8.RuneError && unicode.IsPrint(r) {
				p.setFilter(p.filter + string(r))
			}
			b = b[size:]
			continue
		}
		b = b[1:]
	}
	return false, pickChoice{}, nil
}

// setFilter changes the filter and the matches with it: keys typed in the
// same read as Enter (fast typing, a paste) must pick from what they
// selected, not from the list last drawn.
func (p *picker) setFilter(f string) {
	p.filter, p.cursor = f, 0
	p.matches = p.match()
}

func (p *picker) move(d int) {
	if n := len(p.matches); n > 0 {
		p.cursor = (p.cursor + d + n) % n
	}
}

func (p *picker) clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.out, "\r\x1b[%dA\x1b[J", p.drawn)
	} else {
		fmt.Fprint(p.out, "\r\x1b[J")
	}
}

func (p *picker) render() {
	p.matches = p.match()
	if p.cursor >= len(p.matches) {
		p.cursor = 0
	}
	var sb strings.Builder
	sb.WriteString("Pick a profile or role (type to filter, arrows to move, Enter to load, Esc to cancel)\r\n")
	start := 0
	if p.cursor >= pickerRows {
		start = p.cursor - pickerRows + 1
	}
	lines := 1
	for i := start; i < len(p.matches) && i < start+pickerRows; i++ {
		mark := "  "
		if i == p.cursor {
			mark = "> "
		}
		sb.WriteString(mark + p.matches[i].label + "\r\n")
		lines++
	}
	fmt.Fprintf(&sb, "  (%d of %d)\r\n", len(p.matches), len(p.choices))
	lines++
	sb.WriteString("filter: " + p.filter)
	p.clear()
	p.drawn = lines
	io.WriteString(p.out, sb.String())
}
