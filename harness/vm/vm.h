// `odfbench vm`: runs odfbench itself under a given kernel image in a QEMU
// guest, so an ODF kernel can be evaluated without rebooting the host.
//
// The guest boots a generated initramfs (this static binary, busybox-static,
// input files, an /init script).  Its console (ttyS0) streams to the user;
// the command's stdout, exit code and results come back as a cpio archive on
// a second serial port (ttyS1), which every distribution kernel has built in.
//
// vm/guest.h plans the command and its /init, vm/initramfs.h packs the
// archive, vm/qemu.h boots it, vm/session.h boots until the work is done;
// run_vm decides what runs where (kernels, --jobs, A/B).
#pragma once
#include "vm/guest.h"
#include "vm/options.h"
#include "vm/initramfs.h"
#include "vm/qemu.h"

namespace odfb {

// Validates options (throws std::invalid_argument naming the problem), boots,
// streams, collects.  Returns the guest command's exit code, or 3 when the VM
// itself failed (panic, timeout, silent guest, no results).
int run_vm(VmOptions opts);

}  // namespace odfb
