package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/maildesk/maildesk/config"
)

// defaultListen is config's default for http.listen (config.defaults; a
// test keeps the two the same).
const defaultListen = "127.0.0.1:8080"

// listenEnv overrides http.listen for the daemon (config.envName) and so
// for the health check too.
const listenEnv = "MAILDESK_HTTP_LISTEN"

// cmdHealthcheck asks the running daemon's HTTP listener whether it is
// alive (/healthz) or ready (/readyz): exit 0 on 200 within the timeout,
// else the reason on stderr and exit 1. It is the container image's health
// check, so it needs nothing but this binary: no shell, no curl.
var healthcheckCommand = &command{name: "healthcheck", flags: "[--url URL | --config FILE] [--ready] [--timeout 3s]",
	summary: "exit 0 when the daemon's /healthz (--ready: /readyz) answers 200", run: cmdHealthcheck}

func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rawURL := fs.String("url", "", "the daemon's base URL, e.g. http://127.0.0.1:8080; a path is used as given")
	cfgPath := fs.String("config", "", "take the address from this config's http.listen")
	ready := fs.Bool("ready", false, "check /readyz (Redis reachable, mailbox connected) instead of /healthz")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return flagError(fs, err)
	}
	switch {
	case fs.NArg() != 0:
		return fmt.Errorf("%w: healthcheck takes no arguments (got %q)", errUsage, fs.Arg(0))
	case *rawURL != "" && *cfgPath != "":
		return fmt.Errorf("%w: healthcheck takes --url or --config, not both", errUsage)
	case *timeout <= 0:
		return fmt.Errorf("%w: healthcheck --timeout must be positive (got %s)", errUsage, *timeout)
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	var urls []string
	if *rawURL != "" {
		u, err := probeURL(*rawURL, path, *ready)
		if err != nil {
			return fmt.Errorf("%w: healthcheck --url: %v", errUsage, err)
		}
		urls = []string{u}
	} else {
		listen, source, err := healthcheckListen(*cfgPath, os.LookupEnv)
		if err != nil {
			fmt.Fprintln(stderr, "maildesk healthcheck:", err)
			return errReported
		}
		if urls, err = listenURLs(listen, path); err != nil {
			fmt.Fprintf(stderr, "maildesk healthcheck: %s: %v\n", source, err)
			return errReported
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	status, err := probe(ctx, urls, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "maildesk healthcheck: %v\n", err)
		return errReported
	}
	fmt.Fprintln(stdout, "ok:", status)
	return nil
}

// healthcheckListen is the daemon's http.listen as far as the health check
// can tell without loading (and needing the secrets of) the whole config:
// the environment as the daemon sees it wins over the config file, which
// wins over the default. source names where it came from, for messages.
func healthcheckListen(cfgPath string, env func(string) (string, bool)) (listen, source string, err error) {
	listen, source = defaultListen, "the default http.listen"
	if cfgPath != "" {
		data, err := config.ReadFile(cfgPath)
		if err != nil {
			return "", "", fmt.Errorf("reading config file: %w", err)
		}
		var f struct {
			HTTP struct {
				Listen *string `yaml:"listen"`
			} `yaml:"http"`
		}
		if err := yaml.Unmarshal(data, &f); err != nil {
			return "", "", fmt.Errorf("%s: %v", cfgPath, err)
		}
		if f.HTTP.Listen != nil {
			listen, source = *f.HTTP.Listen, cfgPath+": http.listen"
		}
	}
	if v, ok := env(listenEnv); ok {
		listen, source = v, listenEnv
	}
	if listen == "" {
		return "", "", fmt.Errorf("%s is empty: HTTP is off, there is nothing to check", source)
	}
	return listen, source, nil
}

// listenURLs turns a listen address into the URLs to try, in order. A
// wildcard address is reached over loopback: 0.0.0.0 and an empty host at
// 127.0.0.1, :: at [::1] and, should IPv6 be off (then Go listens on IPv4
// only), at 127.0.0.1.
func listenURLs(listen, path string) ([]string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("%q is not host:port", listen)
	}
	hosts := []string{host}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		hosts = []string{"127.0.0.1", "::1"}
		if ip != nil && ip.To4() == nil {
			hosts = []string{"::1", "127.0.0.1"}
		}
	}
	urls := make([]string, len(hosts))
	for i, h := range hosts {
		urls[i] = "http://" + net.JoinHostPort(h, port) + path
	}
	return urls, nil
}

// probeURL is --url with the probe's path added when it has none.
func probeURL(raw, path string, ready bool) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q is not an http:// or https:// URL with a host", raw)
	}
	switch {
	case u.Path == "" || u.Path == "/":
		u.Path = path
	case ready:
		return "", fmt.Errorf("%q has a path: give the base URL with --ready", raw)
	}
	return u.String(), nil
}

// probe GETs the first of urls that can be connected to, and returns what
// answered on 200; anything else is an error saying why. ctx ends after
// timeout, which is named when that is why it failed.
func probe(ctx context.Context, urls []string, timeout time.Duration) (string, error) {
	client := &http.Client{
		Transport: &http.Transport{
			// The daemon is local (or named by --url): never a proxy from
			// HTTP_PROXY, which containers often inherit.
			Proxy:             nil,
			DisableKeepAlives: true,
		},
		// A redirect is not a 200 from the daemon.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var failed []string
	for i, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("User-Agent", "maildesk-healthcheck/"+versionString())
		resp, err := client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			var op *net.OpError
			if i < len(urls)-1 && ctx.Err() == nil && errors.As(err, &op) && op.Op == "dial" {
				failed = append(failed, fmt.Sprintf("GET %s: %v", u, err))
				continue
			}
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				err = fmt.Errorf("no answer within %s", timeout)
			}
			return "", errors.New(strings.Join(append(failed, fmt.Sprintf("GET %s: %v", u, err)), "; "))
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		if err != nil && ctx.Err() != nil {
			return "", fmt.Errorf("GET %s: %s, then no more within %s", u, resp.Status, timeout)
		}
		if resp.StatusCode != http.StatusOK {
			msg := fmt.Sprintf("GET %s: %s", u, resp.Status)
			// /readyz says which check fails.
			if b := strings.Join(strings.Fields(string(body)), " "); b != "" {
				msg += ": " + b
			}
			return "", errors.New(msg)
		}
		return fmt.Sprintf("GET %s: %s", u, resp.Status), nil
	}
	return "", errors.New("no URL to check")
}
