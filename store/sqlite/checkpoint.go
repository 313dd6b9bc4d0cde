package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// A WAL checkpoint copies the pages committed to the -wal file back into the
// database and lets the next writer start the WAL again from its beginning.
// SQLite runs one by default inside the COMMIT that takes the WAL past 1000
// pages (wal_autocheckpoint): every ~120th refresh rotation waited for a
// checkpoint's page copies and its two fsyncs, and every request queued
// behind the store's one connection waited with it.
//
// Here the request connection does not checkpoint by itself
// (wal_autocheckpoint=0). A goroutine owned by the Store runs a PASSIVE
// checkpoint on a connection of its own a short while after writes: it
// never blocks the writer, and its fsyncs are off the request path. Under a
// steady write load a PASSIVE checkpoint rarely ends with nothing left to
// copy, and the WAL starts again only after one did; so when the WAL still
// holds more than limitPages after one, the goroutine takes the request
// connection's turn and checkpoints the few pages written meanwhile, which
// makes the next write start the WAL again. journal_size_limit then cuts
// the file back to limitPages.
//
// That keeps the WAL near limitPages, but how near depends on how fast the
// checkpoints run. The bound that does not is the backstop (pool.backstop):
// a write call (Exec, InTx) that leaves the WAL file larger than maxPages
// runs a RESTART checkpoint in its own turn before it returns, as SQLite's
// automatic checkpoint would, only much later.
//
// Several processes may share the file: each runs its own checkpointer, and
// PASSIVE checkpoints from several connections are safe (one runs at a time;
// the others return at once). A long read transaction in another process
// can hold a checkpoint back; the WAL then grows until it ends.

// checkpointConfig is when the checkpoints run. Tests shrink it.
type checkpointConfig struct {
	// delay is how long after a call the checkpoint runs, so that one
	// checkpoint copies the writes of many requests.
	delay time.Duration
	// limitPages is the WAL length, in pages, past which the checkpointer
	// catches up in the request connection's turn, and what the file is
	// cut back to.
	limitPages int64
	// maxPages is the backstop's WAL length.
	maxPages int64
}

var defaultCheckpoints = checkpointConfig{
	delay:      100 * time.Millisecond,
	limitPages: 4096,     // 16 MiB of 4 KiB pages
	maxPages:   4 * 4096, // 64 MiB
}

// walFrame is the size of one WAL frame: a page and its 24-byte header.
func walFrame(pageSize int64) int64 { return pageSize + 24 }

// walPath is the WAL file of the database file at path; "" for a "file:"
// URI.
func walPath(path string) string {
	if !plainFile(path) {
		return ""
	}
	return path + "-wal"
}

// checkpointer runs the checkpoints of one Store in its own goroutine,
// stopped by close.
type checkpointer struct {
	cfg    checkpointConfig
	db     *sql.DB // its own connection: see above
	pool   *pool   // whose turn the catch-up takes
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	failed bool // the last checkpoint failed: the next success is logged
}

// startCheckpointer sets the request connection's checkpoint pragmas, opens
// a second connection to the database at dsn and starts the goroutine,
// which the pool nudges after each call.
func startCheckpointer(ctx context.Context, dsn, walPath string, p *pool, cfg checkpointConfig, log *slog.Logger) (*checkpointer, error) {
	var pageSize int64
	if err := p.conn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return nil, fmt.Errorf("page size: %w", err)
	}
	// A "file:" URI's file is SQLite's to find: there, SQLite's own
	// automatic checkpoint at maxPages is the backstop.
	auto := int64(0)
	if walPath == "" {
		auto = cfg.maxPages
	}
	for _, pragma := range []string{
		fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", auto),
		fmt.Sprintf("PRAGMA journal_size_limit = %d", cfg.limitPages*walFrame(pageSize)),
	} {
		if _, err := p.conn.ExecContext(ctx, pragma); err != nil {
			return nil, fmt.Errorf("%s: %w", pragma, err)
		}
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("checkpoint connection: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("checkpoint connection: %w", err)
	}
	if walPath != "" {
		p.walPath = walPath
		p.walMax = cfg.maxPages * walFrame(pageSize)
		p.walNext = p.walMax
		p.log = log
	}
	p.wrote = make(chan struct{}, 1)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &checkpointer{cfg: cfg, db: db, pool: p, log: log, cancel: cancel, done: make(chan struct{})}
	go c.run(runCtx)
	return c, nil
}

// run waits for a call, lets writes gather for cfg.delay, and checkpoints,
// until ctx is done.
func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	delay := time.NewTimer(c.cfg.delay)
	delay.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.pool.wrote:
		}
		delay.Reset(c.cfg.delay)
		select {
		case <-ctx.Done():
			delay.Stop()
			return
		case <-delay.C:
		}
		c.report(c.checkpoint(ctx))
	}
}

// checkpoint runs a PASSIVE checkpoint and, when the WAL is still longer
// than the limit, a second one in the request connection's turn.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	// Even when the checkpoint copied the whole WAL, the WAL cannot start
	// again yet if the writer went on meanwhile: log is its length when
	// the checkpoint began.
	log, err := c.passive(ctx)
	if err != nil || log <= c.cfg.limitPages {
		return err
	}
	// The request connection writes nothing while its turn is held, so
	// this checkpoint reaches the end of the WAL (unless a reader in
	// another process holds it back), and the next write starts the WAL
	// again.
	if err := c.pool.take(ctx); err != nil {
		return nil // closing
	}
	defer c.pool.give()
	_, err = c.passive(ctx)
	return err
}

// passive runs PRAGMA wal_checkpoint(PASSIVE) and returns the WAL's length
// in pages.
func (c *checkpointer) passive(ctx context.Context) (int64, error) {
	var busy, log, copied int64
	c.pool.checkpointing.Lock()
	defer c.pool.checkpointing.Unlock()
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied)
	switch {
	case err != nil && ctx.Err() != nil:
		return 0, nil // interrupted by close: not a failure
	case err != nil:
		return 0, fmt.Errorf("sqlite: WAL checkpoint: %w", err)
	}
	return log, nil
}

// report logs a failed checkpoint, once until one succeeds again: it is not
// fatal, the next call tries again, and the backstop bounds the WAL.
func (c *checkpointer) report(err error) {
	switch {
	case err != nil && !c.failed:
		c.log.Warn("sqlite: background WAL checkpoint failed; the next write retries it", "err", err)
	case err == nil && c.failed:
		c.log.Info("sqlite: background WAL checkpoints work again")
	}
	c.failed = err != nil
}

// close stops the goroutine, interrupting a checkpoint in progress, and
// closes its connection.
func (c *checkpointer) close() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
