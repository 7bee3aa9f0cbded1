//go:build linux && cgo

package spawn

/*
#include <stdlib.h>
#include "stage.h"

// Defined in stage.c: the timer slack the spawner was started with (0:
// unchanged).
extern unsigned long berth_timer_slack;
void berth_restore_cpus(void);

// berth_stage_check decodes buf as the stage would and reports why it
// would refuse it (an empty string when it accepts it).
static void berth_stage_check(const unsigned char *buf, size_t len, char *err, size_t errlen) {
	struct berth_stage st;
	err[0] = 0;
	if (berth_stage_decode(buf, len, &st, err, errlen) == 0)
		berth_stage_free(&st);
}
*/
import "C"

import (
	"errors"
	"unsafe"

	_ "github.com/berth-dev/berth/internal/pid1" // the stub init that stage.c's constructor also dispatches
)

// The wire format's constants come from stage.h, the stage's own header.
const (
	stageArg    = C.BERTH_STAGE_ARG
	stageMagic  = C.BERTH_STAGE_MAGIC
	stageMaxMsg = C.BERTH_STAGE_MAX_MSG

	tagFlags       = C.BERTH_TAG_FLAGS
	tagHostname    = C.BERTH_TAG_HOSTNAME
	tagArg         = C.BERTH_TAG_ARG
	tagEnv         = C.BERTH_TAG_ENV
	tagChdir       = C.BERTH_TAG_CHDIR
	tagUser        = C.BERTH_TAG_USER
	tagCaps        = C.BERTH_TAG_CAPS
	tagRlimit      = C.BERTH_TAG_RLIMIT
	tagOOM         = C.BERTH_TAG_OOM
	tagAffinity    = C.BERTH_TAG_AFFINITY
	tagPersonality = C.BERTH_TAG_PERSONALITY
	tagSeccomp     = C.BERTH_TAG_SECCOMP

	flagCgroupNS      = C.BERTH_F_CGROUPNS
	flagSysInside     = C.BERTH_F_SYS_INSIDE
	flagCgroup        = C.BERTH_F_CGROUP
	flagCgroupRW      = C.BERTH_F_CGROUP_RW
	flagPrivateNet    = C.BERTH_F_PRIVATE_NET
	flagReadOnly      = C.BERTH_F_READ_ONLY
	flagConsole       = C.BERTH_F_CONSOLE
	flagNoNewPrivs    = C.BERTH_F_NO_NEW_PRIVS
	flagAsPID2        = C.BERTH_F_AS_PID2
	flagChdirFallback = C.BERTH_F_CHDIR_FALLBACK
	flagJoinRoot      = C.BERTH_F_JOIN_ROOT
	flagAwaitGo       = C.BERTH_F_AWAIT_GO

	msgError   = C.BERTH_MSG_ERROR
	msgFDs     = C.BERTH_MSG_FDS
	msgGo      = C.BERTH_MSG_GO
	fdsConsole = C.BERTH_FDS_CONSOLE
	fdsNotify  = C.BERTH_FDS_NOTIFY

	stubFD = C.BERTH_STUB_FD
)

// The runtime started on one CPU (stage.c's constructor narrowed it, so
// that it made one P); every thread gets the CPU affinity berth-nspawn
// was started with back before anything else runs.
func init() { C.berth_restore_cpus() }

// startSlack is the timer slack berth-nspawn was started with, for the
// processes it starts; its own threads run with a coarse one, set before
// the runtime started (stage.c). 0 means the slack was left alone.
func startSlack() uintptr { return uintptr(C.berth_timer_slack) }

// checkStage runs the stage's own decoder on an encoded configuration and
// returns its refusal, if any: the spawner checks what it sends, so an
// encoding mistake is a clear error before the container starts.
func checkStage(b []byte) error {
	if len(b) == 0 {
		return errors.New("stage configuration: empty")
	}
	var msg [256]C.char
	C.berth_stage_check((*C.uchar)(unsafe.Pointer(&b[0])), C.size_t(len(b)), &msg[0], C.size_t(len(msg)))
	if msg[0] != 0 {
		return errors.New("stage configuration: " + C.GoString(&msg[0]))
	}
	return nil
}
