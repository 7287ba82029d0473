package testserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RebuildInbox rebuilds user's INBOX under any open session, as a restore
// from a backup or a mailbox migration does: the mails stay, but Dovecot
// forgets their UIDs and gives the mailbox a new UIDVALIDITY, with UIDs
// from 1. The sessions that have it selected are not told: an IDLE stays
// silent (its inotify watches follow the old directories, which stay
// aside), and Dovecot drops such a session at its next command. The other
// folders stay as they are. It returns how many mails the inbox holds.
func (d *DovecotServer) RebuildInbox(t testing.TB, user string) int {
	t.Helper()
	n, err := d.rebuildInbox(user)
	if err != nil {
		t.Fatalf("testserver: dovecot rebuild inbox: %v", err)
	}
	return n
}

func (d *DovecotServer) rebuildInbox(user string) (int, error) {
	acct, err := dovecotRunAs()
	if err != nil {
		return 0, err
	}
	root := filepath.Join(d.dir, "mail", user, "Maildir")
	var old []string
	for _, sub := range []string{"new", "cur"} {
		aside := filepath.Join(root, sub+".rebuild")
		if err := os.Rename(filepath.Join(root, sub), aside); err != nil {
			return 0, err
		}
		old = append(old, aside)
	}
	// The INBOX's own index and UID list; the folders' are in their
	// directories (.Processed/...).
	ents, err := os.ReadDir(root)
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		if name := e.Name(); name == "dovecot-uidlist" || strings.HasPrefix(name, "dovecot.index") {
			if err := os.Remove(filepath.Join(root, name)); err != nil {
				return 0, err
			}
		}
	}
	newDir := filepath.Join(root, "new")
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(root, sub)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return 0, err
		}
		if acct.cred != nil {
			if err := os.Lchown(dir, acct.uid, acct.gid); err != nil {
				return 0, err
			}
		}
	}
	// Copied, not moved: the sessions' inotify watches are on the old
	// directories, and any change there (a mail moved out, the directory
	// removed) would wake them; so they stay aside as they are.
	n := 0
	for _, dir := range old {
		files, err := os.ReadDir(dir)
		if err != nil {
			return n, err
		}
		for _, f := range files {
			raw, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err != nil {
				return n, err
			}
			// A mail in cur/ carries its flags after ":2,"; in new/ it has none.
			name, _, _ := strings.Cut(f.Name(), ":")
			dst := filepath.Join(newDir, name)
			if err := os.WriteFile(dst, raw, 0o600); err != nil {
				return n, err
			}
			if acct.cred != nil {
				if err := os.Lchown(dst, acct.uid, acct.gid); err != nil {
					return n, err
				}
			}
			n++
		}
	}
	return n, nil
}
