package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/keyfile"
)

// runRotateKey is `keystile rotate-key --config FILE`: a new signing key
// goes first in the key file and the key that signed until now is marked
// retired, so it keeps verifying the tokens it signed until they expire
// (RFC 7517 §5: a JWKS is expected to change). Running servers pick the new
// file up on `keystile reload` (SIGHUP) or at restart.
func runRotateKey(args []string, stdout, _ io.Writer) error {
	flags := flag.NewFlagSet("rotate-key", flag.ContinueOnError)
	keep := flags.Duration("keep", 0, "how long retired keys stay in the file; default and minimum: tokens.access_ttl + 30s")
	configPath, err := parseWithConfig(flags, args)
	if err != nil {
		return err
	}
	s, err := loadConfig(configPath, os.Getenv)
	if err != nil {
		return err
	}
	if s.Algorithm == keystile.AlgHS256 {
		return fmt.Errorf("signing.algorithm is HS256: its secret is shared with the verifiers, so the operator makes and distributes a new one; rotate-key rotates key files (RS256, ES256, EdDSA)")
	}
	if s.KeysInStore {
		if *keep != 0 {
			return usageError{"--keep applies to key files: a key in the store is deleted once its tokens have expired"}
		}
		return rotateStoreKey(s, stdout)
	}
	// A retired key dropped sooner would take live tokens with it.
	minKeep := s.AccessTTL + keystile.DefaultLeeway
	if *keep == 0 {
		*keep = minKeep
	}
	if *keep < minKeep {
		return usageError{fmt.Sprintf("--keep %s is shorter than tokens.access_ttl + %s (%s): tokens signed by a dropped key would stop verifying", *keep, keystile.DefaultLeeway, minKeep)}
	}
	k, err := keyfile.Rotate(s.KeyFile, s.Algorithm, time.Now(), *keep)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, `keystile: %s now signs with a new %s key, kid %s.
The previous key is marked retired and keeps verifying until its tokens expire.
Running servers use it after: keystile reload --config %s (or SIGHUP, or a restart).
`, s.KeyFile, k.Algorithm(), k.KeyID(), configPath)
	return err
}
