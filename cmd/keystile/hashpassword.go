package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/keystile/keystile/password"
	"golang.org/x/term"
)

// maxPasswordInput bounds what hash-password reads from stdin; password.Hash
// itself refuses passwords over 1024 bytes.
const maxPasswordInput = 4096

// minPasswordRunes is the length under which hash-password warns.
const minPasswordRunes = 8

// runHashPassword is `keystile hash-password`: it prints the argon2id PHC
// string of a password for the users file. The password comes from stdin
// (one line) or, on a terminal, is typed twice without echo; never from the
// command line, which other users of the machine can read.
func runHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var (
		pw  string
		err error
	)
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		pw, err = promptPassword(f, stderr)
	} else {
		pw, err = readPasswordLine(stdin)
	}
	if err != nil {
		return err
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	// A warning, not a refusal: the operator may be importing an existing
	// account. NIST SP 800-63B §3.1.1.2 asks for at least 8 characters.
	if utf8.RuneCountInString(pw) < minPasswordRunes {
		fmt.Fprintf(stderr, "keystile: warning: this password is shorter than %d characters and easy to guess\n", minPasswordRunes)
	}
	_, err = fmt.Fprintln(stdout, hash)
	return err
}

// promptPassword asks for the password twice on the terminal, without echo.
func promptPassword(tty *os.File, prompt io.Writer) (string, error) {
	fd := int(tty.Fd())
	fmt.Fprint(prompt, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	fmt.Fprint(prompt, "Repeat the password: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if !bytes.Equal(first, second) {
		return "", errors.New("the two passwords differ")
	}
	if len(first) == 0 {
		return "", errors.New("the password is empty")
	}
	return string(first), nil
}

// readPasswordLine reads a password piped on stdin: everything up to one
// optional final line break. Spaces are part of the password.
func readPasswordLine(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPasswordInput+1))
	if err != nil {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	if len(b) > maxPasswordInput {
		return "", fmt.Errorf("stdin holds more than %d bytes; give the password alone", maxPasswordInput)
	}
	s := strings.TrimSuffix(string(b), "\n")
	s = strings.TrimSuffix(s, "\r")
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("stdin holds more than one line; give the password alone")
	}
	if s == "" {
		return "", errors.New("no password on stdin")
	}
	return s, nil
}
