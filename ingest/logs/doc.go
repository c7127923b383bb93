// Package logs tails log files — container logs on a Kubernetes node
// (/var/log/pods, CRI or Docker json-file) and plain files on VMs — and
// hands their entries, in file order, to a Sink.
//
// It owns what it takes not to lose or repeat lines: files are identified
// by device, inode and a fingerprint of their first bytes, so a file
// renamed by rotation keeps its position and a reused inode is not taken
// for the old file; runtime-split lines (CRI P/F, Docker pieces) are
// reassembled and multiline entries grouped before they are shipped; and
// each Record carries the offset that may be committed once the shipper's
// server has acknowledged it. The Positions file stores those committed
// offsets, replaced atomically, so that after a crash reading resumes
// where the server's acknowledgements stopped: at least once, nothing lost.
//
// New files are found through inotify on the directories on the way to the
// globs, with periodic scans and polling as the fallback. Parsing works on
// byte slices with reused buffers: a line costs no allocation here.
package logs
