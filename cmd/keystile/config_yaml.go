package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// decodeConfig parses the YAML strictly: an unknown key is a problem that
// names it, so that a typo does not silently leave a setting at its
// default. Unknown and mistyped keys come back as problems next to what
// decoded, so that the checker can go on and report the rest of the file;
// a syntax error stops everything and comes back as the error.
func decodeConfig(raw []byte) (fc fileConfig, problems []string, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	err = dec.Decode(&fc)
	var te *yaml.TypeError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return fc, nil, nil
	case errors.As(err, &te):
		return fc, typeProblems(te), nil
	default:
		return fc, nil, syntaxError(raw, err)
	}
}

// lazyRegexp compiles expr at its first use. The expressions of this file
// and branding.go read configurations, mostly to explain what is wrong with
// one: compiled at package initialisation they cost every command, and a
// server for as long as it runs, memory for what it may never need.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var unknownField = lazyRegexp(`^line (\d+): field (\S+) not found in type \S+$`)

// typeProblems says yaml.v3's type errors in the configuration's terms:
// "field x not found in type main.fileConfig" becomes `unknown key "x"`.
func typeProblems(te *yaml.TypeError) []string {
	lines := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		if m := unknownField().FindStringSubmatch(e); m != nil {
			e = fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
		}
		lines[i] = e
	}
	return lines
}

// yamlError says a decoding error of raw in one line, for files read in one
// piece: typeProblems joined, or a syntax error with its real line.
func yamlError(raw []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxError(raw, err)
	}
	return errors.New(strings.Join(typeProblems(te), "; "))
}

// yamlLine splits yaml.v3's syntax errors, which leave the line out for
// the first line.
var yamlLine = lazyRegexp(`^yaml: (?:line (\d+): )?(.*)$`)

// maxLineSearch bounds the search for the line a syntax error is on (one
// parse per line): configuration files are short.
const maxLineSearch = 2000

// syntaxError names the line a YAML syntax error is on, and the key there.
// yaml.v3 reports the line where the enclosing block began (a mis-indented
// "name:" under "clients:" is reported at "clients:"), so the line is found
// again: the first prefix of the file that fails with the same message ends
// on it.
func syntaxError(raw []byte, err error) error {
	m := yamlLine().FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	detail := m[2]
	lines := strings.Split(string(raw), "\n")
	n, _ := strconv.Atoi(m[1])
	if n == 0 {
		n = 1
	}
	for k := 1; k <= len(lines) && k <= maxLineSearch; k++ {
		var v any
		perr := yaml.Unmarshal([]byte(strings.Join(lines[:k], "\n")), &v)
		if pm := yamlLine().FindStringSubmatch(fmt.Sprint(perr)); perr != nil && pm != nil && pm[2] == detail {
			n = k
			break
		}
	}
	where := fmt.Sprintf("line %d", n)
	if n <= len(lines) {
		if key := lineKey(lines[n-1]); key != "" {
			where += fmt.Sprintf(", key %q", key)
		}
		if section := sectionOf(lines, n); section != "" {
			where += fmt.Sprintf(" in %q", section)
		}
	}
	msg := fmt.Sprintf("%s: %s", where, detail)
	if hint := syntaxHint(detail, lines, n); hint != "" {
		msg += " (" + hint + ")"
	}
	return errors.New(msg)
}

var keyOfLine = lazyRegexp(`^\s*(?:-\s+)*([^\s:#'"\[{-][^:#]*?)\s*:(?:\s|$)`)

// lineKey is the mapping key a line starts with, or "".
func lineKey(line string) string {
	if m := keyOfLine().FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

// sectionOf is the top-level key that line n (1-based) belongs to, or ""
// when it is a top-level line itself.
func sectionOf(lines []string, n int) string {
	if indent(lines[n-1]) == 0 {
		return ""
	}
	for i := n - 2; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) == "" || strings.HasPrefix(strings.TrimSpace(lines[i]), "#") {
			continue
		}
		if indent(lines[i]) == 0 {
			return lineKey(lines[i])
		}
	}
	return ""
}

func indent(line string) int { return len(line) - len(strings.TrimLeft(line, " \t")) }

// syntaxHint says in plain words what the parser's message usually means.
func syntaxHint(detail string, lines []string, n int) string {
	switch {
	case strings.Contains(detail, "mapping values are not allowed"):
		if n <= len(lines) && strings.HasPrefix(strings.TrimSpace(lines[n-1]), "store:") {
			// `store: memory:` or `store: sqlite:a: b`: in YAML, ": " or a
			// final ":" starts a mapping.
			return `in YAML a value that ends in ":" or holds ": " must be quoted: write store: "memory:", or store: memory`
		}
		return `a value that holds ": " or ends in ":" must be quoted`
	case strings.Contains(detail, "tab character"):
		return "YAML indents with spaces, not tabs"
	case strings.Contains(detail, "did not find expected key"), strings.Contains(detail, "did not find expected '-' indicator"),
		strings.Contains(detail, "block sequence entries are not allowed"):
		return "check this line's indentation against the lines above it"
	case strings.Contains(detail, "did not find expected ',' or ']'"):
		return "a [ list opened here is not closed with ]"
	case strings.Contains(detail, "did not find expected ',' or '}'"):
		return "a { map opened here is not closed with }"
	case strings.Contains(detail, "found unexpected end of stream"):
		return "a quote opened here is not closed"
	}
	return ""
}
