package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/keystile/keystile/password"
)

// runClientSecret is `keystile client-secret`: a new 256-bit client secret
// and its "sha256:" form. A random secret of that size cannot be guessed, so
// SHA-256 protects it as well as argon2id would, without making every token
// request pay for a slow hash (docs/security.md §5).
func runClientSecret(args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("client-secret", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	secret, hash, err := password.NewClientSecret()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, `client_secret: %s
secret_hash: %s

client_secret goes to the client (its client_secret_basic password or
client_secret_post parameter). Keep it secret; Keystile never stores it, and
it is not shown again.

secret_hash goes into keystile.yaml, under the client:
  clients:
    - id: backend
      secret_hash: "%s"
`, secret, hash, hash)
	return err
}
