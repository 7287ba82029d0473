package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/maildesk/maildesk/config"
)

// cmdCheckConfig prints "config ok", or one line per problem and fails.
func cmdCheckConfig(args []string, stdout io.Writer) error {
	fs, path := newFlags("check-config")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	_, err := config.Load(*path)
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stdout, p.String())
		}
		return errReported
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "config ok")
	return nil
}
