// Command cli signs its user in with the device flow (RFC 8628), as `gh
// auth login` does, and calls an API with the token.
//
//	go run ./examples/cli -issuer http://127.0.0.1:9000 -api http://127.0.0.1:8081/hello
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"golang.org/x/oauth2"
)

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:9000", "the Keystile issuer URL")
	clientID := flag.String("client", "cli", "the client id (a public client with the device grant)")
	api := flag.String("api", "http://127.0.0.1:8081/hello", "the API URL to call with the token")
	flag.Parse()
	if err := run(context.Background(), *issuer, *clientID, *api, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run signs in (printing where to enter which code) and prints the API's
// answer.
func run(ctx context.Context, issuer, clientID, api string, out io.Writer) error {
	cfg := &oauth2.Config{
		ClientID: clientID,
		Scopes:   []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: issuer + "/device_authorization",
			TokenURL:      issuer + "/token",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
	}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		return fmt.Errorf("starting the sign-in: %w", err)
	}
	fmt.Fprintf(out, "Open %s and enter the code %s\n", da.VerificationURI, da.UserCode)
	fmt.Fprintf(out, "(or open %s)\n", da.VerificationURIComplete)
	tok, err := cfg.DeviceAccessToken(ctx, da)
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "access_denied" {
		return errors.New("the sign-in was denied")
	}
	if err != nil {
		return fmt.Errorf("waiting for the sign-in: %w", err)
	}
	fmt.Fprintln(out, "Signed in.")
	// cfg.Client refreshes the token when it expires.
	resp, err := cfg.Client(ctx, tok).Get(api)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the API answered %s: %s", resp.Status, body)
	}
	fmt.Fprintf(out, "API: %s", body)
	return nil
}
