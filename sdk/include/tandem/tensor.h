/*
 * Tensor views across the module boundary (tandem ABI 1.0).
 *
 * A view is a pointer plus dtype, device and shape; data is contiguous and row-major. A view never
 * owns its memory: whoever made the buffer frees it, and the view's lifetime is stated by the call
 * that hands it over.
 */
#ifndef TANDEM_TENSOR_H
#define TANDEM_TENSOR_H

#include "tandem/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TANDEM_MAX_DIMS 6

typedef enum tandem_dtype {
  TANDEM_DTYPE_F32 = 1,
  TANDEM_DTYPE_BF16 = 2,
  TANDEM_DTYPE_F16 = 3,
  TANDEM_DTYPE_F64 = 4,
  TANDEM_DTYPE_I32 = 5,
  TANDEM_DTYPE_U16 = 6,
  TANDEM_DTYPE_I64 = 7
} tandem_dtype;

typedef enum tandem_device_type {
  TANDEM_DEVICE_CPU = 1,
  TANDEM_DEVICE_CUDA = 2
} tandem_device_type;

typedef struct tandem_tensor_view {
  uint32_t struct_size;
  uint32_t dtype;        /* a tandem_dtype */
  uint32_t device;       /* a tandem_device_type */
  int32_t device_index;  /* CUDA ordinal; 0 on the CPU */
  void* data;
  uint32_t ndim;
  int64_t shape[TANDEM_MAX_DIMS];
} tandem_tensor_view;

/*
 * SDK 1.2: where a module's memory and work are. For TANDEM_DEVICE_CUDA, device_index is the CUDA
 * ordinal (the device current on the calling thread when the host calls in) and stream is the
 * cudaStream_t every kernel and copy of the module is queued on (NULL: the legacy default stream);
 * the host owns the stream, which outlives the module instance. On the CPU both are 0.
 */
typedef struct tandem_placement {
  uint32_t struct_size;
  uint32_t device;      /* a tandem_device_type */
  int32_t device_index;
  void* stream;
} tandem_placement;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TANDEM_TENSOR_H */
