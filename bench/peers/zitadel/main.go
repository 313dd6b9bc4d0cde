// Command zitadel is zitadel/oidc v3's example OpenID Provider as its own
// example main sets it up (example/server: exampleop.SetupServer over the
// in-memory example storage, its request-logging middleware, a debug-level
// slog logger, an RSA 2048 RS256 key made at start), on a loopback address.
//
// One adaptation for the benchmark: the example's service user ("sid1",
// client_credentials) gets opaque Bearer tokens, which are an AES encryption
// and no signature. To compare RS256 with RS256, its tokens are made JWTs
// (op.AccessTokenTypeJWT), signed with the example's RS256 key, by wrapping
// the client the storage returns. Everything else is the example's code.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	"os"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// jwtStorage is the example storage, with client_credentials tokens as JWTs.
type jwtStorage struct{ *storage.Storage }

func (s jwtStorage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	c, err := s.Storage.ClientCredentials(ctx, clientID, clientSecret)
	if err != nil {
		return nil, err
	}
	return jwtClient{c}, nil
}

type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

func main() {
	listen := flag.String("listen", "127.0.0.1:9102", "loopback HOST:PORT")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{AddSource: true, Level: slog.LevelDebug}))
	issuer := "http://" + *listen + "/"
	// The example main's clients; the benchmark uses only the service user.
	storage.RegisterClients(
		storage.NativeClient("native", "http://127.0.0.1:1/cb"),
		storage.WebClient("web", "secret", "http://127.0.0.1:1/cb"),
	)
	st := jwtStorage{storage.NewStorage(storage.NewUserStore(issuer))}
	router := exampleop.SetupServer(issuer, st, logger, false)
	logger.Info("server listening", "addr", issuer)
	if err := http.ListenAndServe(*listen, router); err != nil {
		logger.Error("server terminated", "error", err)
		os.Exit(1)
	}
}
