// The NCCL backend (see dist/backend.h): one GPU per rank, host buffers staged through device
// buffers, the NCCL unique id broadcast over the MPI Communicator. Built only with CUDA and NCCL
// (BSTACK_HAS_NCCL); nccl_available() says whether this build has it.
#pragma once

#include "dist/backend.h"

namespace bstack::dist {

bool nccl_available();
// Throws bstack::Error when the build has no NCCL, or no CUDA device is visible, saying which.
std::unique_ptr<Backend> make_nccl_backend(Communicator& comm);

}  // namespace bstack::dist
