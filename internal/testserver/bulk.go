package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// maildirSeq keeps Maildir file names unique across calls within a second.
var maildirSeq atomic.Uint64

// DeliverMaildir puts raw mails straight into the Maildir of user's INBOX,
// the way a local delivery agent does (write into tmp/, rename into new/),
// without going through Dovecot. Dovecot assigns UIDs and indexes them at
// the next mailbox sync (a SELECT or STATUS), which the caller should do
// before measuring anything.
//
// It exists for benchmarks that need thousands of waiting mails: on a
// 2-core test machine pipelined IMAP APPEND filled about 200 mails/s, this
// (with Dovecot's indexing) 1,100-3,500 mails/s. Files are not fsynced: the
// data is throw-away. As root the files are given to the account Dovecot
// runs as, or Dovecot could not rename them into cur/.
func (d *DovecotServer) DeliverMaildir(t testing.TB, user string, mails [][]byte) {
	t.Helper()
	if err := d.deliverMaildir(user, mails); err != nil {
		t.Fatalf("testserver: dovecot maildir delivery: %v", err)
	}
}

func (d *DovecotServer) deliverMaildir(user string, mails [][]byte) error {
	acct, err := dovecotRunAs()
	if err != nil {
		return err
	}
	// The layout of dovecot.conf.tmpl: home @DIR@/mail/%u, maildir below it.
	home := filepath.Join(d.dir, "mail", user)
	root := filepath.Join(home, "Maildir")
	chown := func(path string) error {
		if acct.cred == nil {
			return nil
		}
		return os.Lchown(path, acct.uid, acct.gid)
	}
	for _, dir := range []string{filepath.Join(d.dir, "mail"), home, root,
		filepath.Join(root, "tmp"), filepath.Join(root, "new"), filepath.Join(root, "cur")} {
		if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
			return err
		}
		if err := chown(dir); err != nil {
			return err
		}
	}
	// Maildir names: time.unique.host, with ",S=size" so that Dovecot need
	// not stat the file for its size (its own deliveries do the same).
	for _, raw := range mails {
		name := fmt.Sprintf("%d.P%dQ%d.testserver,S=%d", time.Now().Unix(), os.Getpid(), maildirSeq.Add(1), len(raw))
		tmp := filepath.Join(root, "tmp", name)
		if err := os.WriteFile(tmp, raw, 0o600); err != nil {
			return err
		}
		if err := chown(tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(root, "new", name)); err != nil {
			return err
		}
	}
	return nil
}
