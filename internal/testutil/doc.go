// Package testutil holds the helpers that the tests of more than one
// Keystile package share: a controllable clock, a log buffer that
// concurrent handlers may write to, the reading of HTML forms the way a
// browser sees them, the keystile binary built once per test process, and
// the Chromium that browser tests drive.
//
// It imports testing, which is why it is internal and never imported by
// non-test code.
package testutil
