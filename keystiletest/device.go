package keystiletest

import (
	"context"
	"fmt"
	"strings"

	"github.com/keystile/keystile/internal/testutil"
)

// ApproveDevice does what the person does in the device flow (RFC 8628):
// opens the server's /device page, enters userCode, signs in as username
// with their password, and approves. A command-line tool under test that
// called oauth2.Config.DeviceAuth then gets its token from
// DeviceAccessToken. The client must have keystile.GrantDeviceCode, as
// the default client does.
func (idp *IdP) ApproveDevice(ctx context.Context, userCode, username string) error {
	return idp.decideDevice(ctx, userCode, username, "approve")
}

// DenyDevice is ApproveDevice's refusal: the device's poll then ends in
// access_denied.
func (idp *IdP) DenyDevice(ctx context.Context, userCode, username string) error {
	return idp.decideDevice(ctx, userCode, username, "deny")
}

func (idp *IdP) decideDevice(ctx context.Context, userCode, username, decision string) error {
	u, ok := idp.users[username]
	if !ok {
		return fmt.Errorf("keystiletest: no user %q (add one with WithUser)", username)
	}
	b := newBrowser(RedirectURL)
	page, err := b.get(ctx, idp.Issuer()+"/device")
	if err != nil {
		return err
	}
	form, ok := testutil.ParseForm(page.body)
	if !ok {
		return fmt.Errorf("keystiletest: /device showed no form (status %d)", page.status)
	}
	fields := form.Hidden
	fields.Set("user_code", userCode)
	fields.Set("username", username)
	fields.Set("password", u.password())
	fields.Set("decision", decision)
	if page, err = b.post(ctx, idp.Issuer()+"/device", idp.Issuer(), fields); err != nil {
		return err
	}
	if !strings.Contains(page.body, `id="device-done"`) {
		return fmt.Errorf("keystiletest: /device did not take the %s of %q (status %d)", decision, userCode, page.status)
	}
	return nil
}
