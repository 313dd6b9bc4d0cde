package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
)

// jsonLog is the JSON handler of `keystile serve` (newLogger) together with
// the writer it writes to, so that the access log can write its line
// itself: slog spends more on one request line (a Record, a pooled handle
// state, json.Marshal for the float) than the rest of a request spends on
// logging. Every other line goes through the JSON handler.
type jsonLog struct {
	slog.Handler
	out *logWriter
}

// newJSONLog is a JSON handler writing to w through a logWriter it shares
// with the access log's own lines, which wait there up to flushEvery (0:
// none wait).
func newJSONLog(w io.Writer, opts *slog.HandlerOptions, flushEvery time.Duration) *jsonLog {
	out := &logWriter{w: w, flushEvery: flushEvery}
	return &jsonLog{Handler: slog.NewJSONHandler(out, opts), out: out}
}

// logWriter serialises whole lines to w: the JSON handler's and the access
// log's. Request lines (hold) wait in memory and are written together, at
// most flushEvery after the first of them, as soon as logBufferSize bytes
// wait, with the next line of any other kind, or at flush: one write
// system call for many requests instead of one each (docs/performance.md).
// Every other line (warnings, errors, start and stop) is written at once,
// after the request lines before it, so the order holds and nothing but
// request lines is ever held. What a crash that skips flush (SIGKILL, the
// OOM killer, a fatal runtime error) loses is the request lines of the last
// flushEvery at most (docs/service.md).
type logWriter struct {
	mu         sync.Mutex
	w          io.Writer
	flushEvery time.Duration
	held       []byte
	timer      *time.Timer // flushes held lines; armed when the first is held
}

// logBufferSize is how many bytes of request lines may wait: about 150
// lines, one write each at full load.
const logBufferSize = 32 << 10

// Write writes p, a line of the JSON handler, after the held lines, in one
// write.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) == 0 {
		return l.w.Write(p)
	}
	l.held = append(l.held, p...)
	if err := l.flushLocked(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// hold writes p, a request line, within flushEvery. A write error is lost,
// as it was for a request line written at once: the request is answered.
func (l *logWriter) hold(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.flushEvery <= 0 {
		_, _ = l.w.Write(p)
		return
	}
	first := len(l.held) == 0
	l.held = append(l.held, p...)
	switch {
	case len(l.held) >= logBufferSize:
		_ = l.flushLocked()
	case first && l.timer == nil:
		l.timer = time.AfterFunc(l.flushEvery, func() { _ = l.flush() })
	case first:
		l.timer.Reset(l.flushEvery)
	}
}

// flush writes the held lines now.
func (l *logWriter) flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

func (l *logWriter) flushLocked() error {
	if len(l.held) == 0 {
		return nil
	}
	_, err := l.w.Write(l.held)
	l.held = l.held[:0]
	if cap(l.held) > 4*logBufferSize {
		l.held = nil // a burst of other lines grew it: give the memory back
	}
	return err
}

// requestLine is the access log's line for one request.
type requestLine struct {
	at         time.Time
	method     string
	path       string
	status     int
	durationMS float64
	remote     string
	suppressed int // lines held back before this one; 0 leaves it out
}

// attrs are the line's attributes, for slog.
func (l *requestLine) attrs() []slog.Attr {
	attrs := []slog.Attr{
		slog.String("method", l.method),
		slog.String("path", l.path),
		slog.Int("status", l.status),
		slog.Float64("duration_ms", l.durationMS),
		slog.String("remote", l.remote),
	}
	if l.suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", l.suppressed))
	}
	return attrs
}

// write logs the line at info, timed l.at, through log: directly when log
// is a jsonLog and the line needs nothing that only slog's encoder does,
// else through log's handler.
func (l *requestLine) write(ctx context.Context, log *slog.Logger) {
	if j, ok := log.Handler().(*jsonLog); ok {
		if !j.Enabled(ctx, slog.LevelInfo) {
			return
		}
		buf := linePool.Get().(*[]byte)
		defer linePool.Put(buf)
		if line, ok := l.appendJSON((*buf)[:0]); ok {
			j.out.hold(line)
			*buf = line
			return
		}
	}
	if h := log.Handler(); h.Enabled(ctx, slog.LevelInfo) {
		r := slog.NewRecord(l.at, slog.LevelInfo, "request", 0)
		r.AddAttrs(l.attrs()...)
		_ = h.Handle(ctx, r)
	}
}

// linePool holds the buffers of access log lines, which escape into the
// writer.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// appendJSON appends the line as slog's JSON handler writes it (the test
// holds it to that, byte for byte). ok is false, and the line must go
// through slog, for what this does not encode itself: a string with
// anything but printable ASCII, a quote or a backslash, a year slog
// refuses, or a float that json.Marshal writes with an exponent.
func (l *requestLine) appendJSON(b []byte) (line []byte, ok bool) {
	if d := math.Abs(l.durationMS); d != 0 && (d < 1e-6 || d >= 1e21) || math.IsNaN(l.durationMS) {
		return nil, false
	}
	b = append(b, `{"time":"`...)
	if b, ok = appendLineTime(b, l.at); !ok {
		return nil, false
	}
	b = append(b, `","level":"INFO","msg":"request","method":`...)
	if b, ok = appendPlainString(b, l.method); !ok {
		return nil, false
	}
	b = append(b, `,"path":`...)
	if b, ok = appendPlainString(b, l.path); !ok {
		return nil, false
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(l.status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, l.durationMS, 'f', -1, 64)
	b = append(b, `,"remote":`...)
	if b, ok = appendPlainString(b, l.remote); !ok {
		return nil, false
	}
	if l.suppressed > 0 {
		b = append(b, `,"suppressed":`...)
		b = strconv.AppendInt(b, int64(l.suppressed), 10)
	}
	return append(b, "}\n"...), true
}

// appendPlainString appends s quoted, if it is printable ASCII without a
// quote or a backslash: what slog writes as it is.
func appendPlainString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}
