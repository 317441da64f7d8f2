// The NCCL backend's factory in builds without CUDA or NCCL (see nccl_backend.h): asking for it
// is an error that says how to get it.
#include "dist/nccl_backend.h"

#include "src/error.h"

namespace bstack::dist {

bool nccl_available() { return false; }

std::unique_ptr<Backend> make_nccl_backend(Communicator&) {
  fail("backend nccl: this build has no NCCL (configure with the CUDA toolkit and NCCL "
       "installed)");
}

}  // namespace bstack::dist
