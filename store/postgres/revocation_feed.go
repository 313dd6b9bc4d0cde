package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keystile/keystile/store"
)

// The deny-list feed: one connection per follower LISTENs on the channel
// that migration 00010's trigger notifies on every revocation, in the
// revoking transaction, so a notice arrives only once it is committed.

const (
	revocationChannel = "keystile_revocations"
	// listenerAppName names the listener's session in pg_stat_activity,
	// with its table's oid after it, so that an operator (or a test) can
	// tell the listeners of one deployment apart.
	listenerAppName = "keystile revocations"
	// listenerHeartbeat is how long the listener waits for a notice before
	// it pings the server: a connection that died without a word (a
	// dropped route, no RST) is found within about this long.
	listenerHeartbeat = 10 * time.Second
	// listenerPingTimeout bounds that ping.
	listenerPingTimeout = 5 * time.Second
	// listenerRetryMin and listenerRetryMax bound the wait between two
	// attempts to connect again; it doubles after each failure.
	listenerRetryMin = 50 * time.Millisecond
	listenerRetryMax = 5 * time.Second
)

var _ store.RevocationFeed = (*Store)(nil)

// FollowRevocations implements [store.RevocationFeed] with LISTEN/NOTIFY on
// a connection of its own. After every (re)connect it listens first and
// then reads the live revocations, so none committed between the two is
// missed. A lost connection is reported to sink at once and retried, with a
// back-off from 50 ms to 5 s.
func (s *Store) FollowRevocations(ctx context.Context, sink store.RevocationSink) error {
	wait := listenerRetryMin
	for {
		reset, err := s.listen(ctx, sink)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sink.Lost(fmt.Errorf("postgres: revocation listener: %w", err))
		if reset {
			wait = listenerRetryMin
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, listenerRetryMax)
	}
}

// listen connects, resets sink and adds to it each revocation announced,
// until the connection fails or ctx is done. reset reports whether it got
// as far as the reset.
func (s *Store) listen(ctx context.Context, sink store.RevocationSink) (reset bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.connConfig)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var table uint32
	if err := conn.QueryRow(ctx, `SELECT 'revoked_access_tokens'::regclass::oid`).Scan(&table); err != nil {
		return false, fmt.Errorf("find the table: %w", err)
	}
	if _, err := conn.Exec(ctx, "SET application_name = "+quoteLiteral(listenerAppName+" "+strconv.FormatUint(uint64(table), 10))); err != nil {
		return false, fmt.Errorf("name the session: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+revocationChannel); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	live, err := liveRevocations(ctx, conn)
	if err != nil {
		return false, err
	}
	sink.Reset(live)
	prefix := strconv.FormatUint(uint64(table), 10) + " "
	for {
		wctx, cancel := context.WithTimeout(ctx, listenerHeartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			// Quiet for a while: make sure the server still hears us.
			pctx, cancel := context.WithTimeout(ctx, listenerPingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("ping: %w", err)
			}
			continue
		case err != nil:
			return true, err
		}
		payload, ok := strings.CutPrefix(n.Payload, prefix)
		if n.Channel != revocationChannel || !ok {
			continue // another deployment's table in the same database
		}
		r, err := parseRevocation(payload)
		if err != nil {
			return true, err
		}
		sink.Add(r)
	}
}

// liveRevocations reads every revocation that has not lapsed at the
// database's clock.
func liveRevocations(ctx context.Context, conn *pgx.Conn) ([]store.Revocation, error) {
	rows, err := conn.Query(ctx, `SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at > now()`)
	if err != nil {
		return nil, fmt.Errorf("read the revocations: %w", err)
	}
	live, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Revocation, error) {
		var r store.Revocation
		err := row.Scan(&r.JTI, &r.ExpiresAt)
		r.ExpiresAt = r.ExpiresAt.UTC()
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the revocations: %w", err)
	}
	return live, nil
}

// parseRevocation reads the payload "EXPIRES_AT_MS JTI" of a notice.
func parseRevocation(payload string) (store.Revocation, error) {
	ms, jti, ok := strings.Cut(payload, " ")
	exp, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || jti == "" {
		return store.Revocation{}, fmt.Errorf("malformed revocation notice %q", payload)
	}
	return store.Revocation{JTI: jti, ExpiresAt: time.UnixMilli(exp).UTC()}, nil
}

// quoteLiteral quotes s as an SQL string literal; SET takes no parameters.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
