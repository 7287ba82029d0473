// Package configload reads a desk's whole configuration: the config file
// (package config: schema, defaults, environment, secrets, validation), the
// SLA grammar of its calendars and targets (package sla) and the contacts
// file it names (package authz). Each reports
// its problems with file, line and field through config's Reporter; the
// loader merges them and sorts them, so that check-config shows every
// problem of a desk at once, as one list. It is the one loader: cmd/maildesk
// and tests of other packages load a desk through it, and it lies above the
// packages whose checks it runs, so data flows one way.
package configload

import (
	"errors"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/sla"
)

// Load is LoadSecrets reading every secret.
func Load(path string) (*config.Config, error) {
	return LoadSecrets(path, config.AllSecrets)
}

// LoadSecrets is config.LoadSecrets followed by the checks of the parts of
// the configuration that other packages own. It returns a ready Config, or
// an error: config.Problems listing every problem of every file, or a
// wrapped I/O error when the config file cannot be read.
func LoadSecrets(path string, need config.Secrets) (*config.Config, error) {
	return complete(config.LoadSecrets(path, need))
}

// Parse is config.Parse followed by the checks Load runs, for a config
// already in memory (tests, the demo).
func Parse(data []byte, dir string, env func(string) (string, bool)) (*config.Config, error) {
	return complete(config.Parse(data, dir, env))
}

// complete runs the other checks on a config config could read, even one
// with problems of its own, so that one run shows all of them.
func complete(cfg *config.Config, err error) (*config.Config, error) {
	var ps config.Problems
	if err != nil && !errors.As(err, &ps) {
		return nil, err
	}
	if cfg == nil {
		return nil, err
	}
	// sla first: the calendars' time zones and defaults are completed
	// before anything reads them.
	sla.Check(cfg, &ps)
	authz.LoadContacts(cfg, &ps)
	if len(ps) > 0 {
		ps.Sort()
		return nil, ps
	}
	return cfg, nil
}
