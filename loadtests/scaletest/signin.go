package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hearthdev/hearth/client"
)

// password is every run user's password when the run signs in (--signin-rps).
func (r *run) password() string { return "scaletest-" + r.id + "-password" }

// signIns signs the run's users in at rps a second until ctx ends, the way people arrive in the
// morning: sign in with the password (signin.login), load who they are (signin.users-me), sign out
// (signin.logout). Sign-ins are limited per client address, so each user signs in from an address
// of its own in 127.0.0.0/8 (loopback targets only; a remote target sees the harness's one address).
// At most 64 are in flight; one more counts as an error. It returns how many it started.
func (r *run) signIns(ctx context.Context, rps int) int {
	if rps <= 0 || len(r.users) == 0 {
		return 0
	}
	slots := make(chan struct{}, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	return paced(ctx, rps, func(i int) {
		select {
		case slots <- struct{}{}:
		default:
			r.rec.fail("signin.login", fmt.Errorf("more than %d sign-ins in flight: the server is not keeping up", cap(slots)))
			return
		}
		wg.Go(func() {
			defer func() { <-slots }()
			r.signIn(ctx, i)
		})
	})
}

func (r *run) signIn(ctx context.Context, i int) {
	user := r.users[i%len(r.users)]
	// 127.0.0.2 to 127.0.0.254, by user.
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+(i%len(r.users))%253))}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}}
	anon, err := client.NewClientWithResponses(r.cfg.URL, client.WithHTTPClient(hc))
	if err != nil {
		r.rec.fail("signin.login", err)
		return
	}
	var token string
	if r.rec.time("signin.login", func() error {
		res, err := anon.LoginWithResponse(ctx, client.LoginJSONRequestBody{Login: user, Password: r.password()})
		if err != nil {
			return ended(ctx, err)
		}
		if err := client.Check(res.HTTPResponse, res.Body); err != nil {
			return err
		}
		token = res.JSON200.SessionToken
		return nil
	}) != nil || token == "" {
		return
	}
	c, err := client.NewClientWithResponses(r.cfg.URL, client.WithHTTPClient(hc), client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}))
	if err != nil {
		return
	}
	_ = r.rec.time("signin.users-me", func() error {
		res, err := c.GetUserWithResponse(ctx, "me")
		if err != nil {
			return ended(ctx, err)
		}
		return client.Check(res.HTTPResponse, res.Body)
	})
	_ = r.rec.time("signin.logout", func() error {
		res, err := c.LogoutWithResponse(ctx)
		if err != nil {
			return ended(ctx, err)
		}
		return client.Check(res.HTTPResponse, res.Body)
	})
}
