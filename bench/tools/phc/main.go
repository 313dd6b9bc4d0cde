// Command phc prints an argon2id PHC string for the password on stdin, with
// the parameters given, for the users file of a benchmark:
//
//	printf %s "$PASSWORD" | phc -m 8 -t 1 -p 1
//
// Keystile's own `keystile hash-password` always uses its production
// parameters (m=64 MiB, t=3), which would make a sign-in benchmark measure
// argon2id instead of the server. m=8 KiB, t=1, p=1 is the cheapest set
// Keystile accepts (RFC 9106 §3.1: 8 KiB per lane). Never for real users.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"golang.org/x/crypto/argon2"
)

func main() {
	m := flag.Uint("m", 8, "memory in KiB")
	t := flag.Uint("t", 1, "passes")
	p := flag.Uint("p", 1, "lanes")
	flag.Parse()
	// The password comes from stdin, never from argv, which anyone on the
	// machine can read.
	raw, err := io.ReadAll(io.LimitReader(os.Stdin, 1024))
	if err != nil {
		log.Fatal(err)
	}
	pw := strings.TrimSuffix(string(raw), "\n")
	if pw == "" {
		log.Fatal("no password on stdin")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		log.Fatal(err)
	}
	key := argon2.IDKey([]byte(pw), salt, uint32(*t), uint32(*m), uint8(*p), 32)
	b64 := base64.RawStdEncoding
	fmt.Printf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s\n", argon2.Version, *m, *t, *p, b64.EncodeToString(salt), b64.EncodeToString(key))
}
