/*
 * tandem module ABI, version 1: the C boundary between the host (libtandem) and a module (.so).
 *
 * A module exports exactly one symbol, TANDEM_MODULE_ENTRY_SYMBOL, a function that returns a pointer
 * to a constant tandem_module_descriptor. The host reads the descriptor's struct_size and ABI version
 * before it touches anything else, refuses a module whose major differs or whose minor is newer than
 * its own, and only then reads the rest. Scanning reads descriptors only; an instance is created
 * (descriptor->create) when a config selects the module.
 *
 * Rules of this boundary (STYLE.md 3-4):
 *   - Only C types cross: fixed-width integers, doubles, NUL-terminated UTF-8 strings, function
 *     pointers, opaque handles and status codes. No exception crosses: every function catches and
 *     returns a status, with a message written into the caller's tandem_error buffer.
 *   - Memory is freed by the side that allocated it. Strings a module returns in its descriptor are
 *     constants that live as long as the module is loaded.
 *   - Structs are append-only and begin with their size. Appending a field, a kind or a function
 *     table is a minor bump; anything else is a major bump; every bump is a line in CHANGELOG.md.
 */
#ifndef TANDEM_ABI_H
#define TANDEM_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TANDEM_ABI_MAJOR 1
#define TANDEM_ABI_MINOR 4

/* Whether a struct whose struct_size is `size` holds `field` of `type` (a field a later minor
 * appended): read such a field only when this is true. */
#define TANDEM_HAS_FIELD(size, type, field) ((size) >= offsetof(type, field) + sizeof(((type*)0)->field))
/* The one symbol a module exports. */
#define TANDEM_MODULE_ENTRY_SYMBOL "tandem_module_entry"

#if defined(__GNUC__)
#define TANDEM_EXPORT __attribute__((visibility("default")))
#else
#define TANDEM_EXPORT
#endif

/* Result of every call across the boundary. */
typedef enum tandem_status {
  TANDEM_STATUS_OK = 0,
  TANDEM_STATUS_INVALID_ARGUMENT = 1, /* the caller passed something the callee refuses */
  TANDEM_STATUS_OUT_OF_MEMORY = 2,
  TANDEM_STATUS_UNSUPPORTED = 3,      /* a valid request this module does not implement */
  TANDEM_STATUS_INTERNAL = 4          /* anything else, message in the error buffer */
} tandem_status;

typedef enum tandem_kind {
  TANDEM_KIND_STAGE = 1,     /* a ZeRO stage: how model state is partitioned */
  TANDEM_KIND_OPTIMIZER = 2,
  TANDEM_KIND_SCHEDULER = 3, /* a learning-rate schedule (scheduler.h) */
  TANDEM_KIND_COMM = 4,      /* a communicator: collectives between ranks */
  TANDEM_KIND_MODEL = 5
} tandem_kind;

/*
 * Where a callee writes why it failed. Owned by the caller; the callee writes at most capacity
 * bytes including the terminating NUL, truncating if needed, and only when it returns a status
 * other than TANDEM_STATUS_OK.
 */
typedef struct tandem_error {
  uint32_t struct_size;
  char* message;
  size_t capacity;
} tandem_error;

/* Types of a module's parameters, as they appear in the config's "params" object. */
typedef enum tandem_param_type {
  TANDEM_PARAM_BOOL = 1,
  TANDEM_PARAM_INT = 2,    /* a JSON integer (or an integral float such as 1e3) */
  TANDEM_PARAM_FLOAT = 3,  /* any JSON number */
  TANDEM_PARAM_STRING = 4, /* a JSON string; choices, when given, lists the accepted values */
  /* A number, or an array of numbers with one value per parameter group (DeepSpeed's schedulers
   * accept both). The module always receives a list; a scalar arrives as a list of one. */
  TANDEM_PARAM_FLOAT_PER_GROUP = 5
} tandem_param_type;

/*
 * One parameter a module accepts (TensorRT's plugin-field idea): the host validates a config's
 * params against this before it creates anything, and names the JSON path in every error.
 */
typedef struct tandem_param_spec {
  uint32_t struct_size;
  const char* name;         /* the JSON key, exactly as in the config */
  uint32_t type;            /* a tandem_param_type */
  uint32_t required;        /* 1: no default; the config must give a value */
  const char* default_json; /* the default as JSON text ("0.001", "\"log\"", "true"); NULL if required */
  double min;               /* inclusive bounds for numbers (each element of a list); */
  double max;               /*   -HUGE_VAL / HUGE_VAL when unbounded */
  const char* const* choices; /* STRING only: NULL-terminated list of accepted values, or NULL */
  const char* help;         /* one line for `tandem modules --verbose` */
} tandem_param_spec;

/*
 * A parameter's value as the host passes it to create(): every parameter of the schema, in schema
 * order, validated, with defaults filled. Only the member matching the spec's type is meaningful.
 * Valid only for the duration of the create() call: copy what you keep.
 */
typedef struct tandem_param_value {
  uint32_t struct_size;
  const char* name;
  uint32_t type;
  int32_t bool_value;
  int64_t int_value;
  double float_value;
  const char* string_value;
  const double* list_values; /* FLOAT_PER_GROUP */
  size_t list_size;
} tandem_param_value;

/* What create() receives. Valid only for the duration of the call. */
typedef struct tandem_create_args {
  uint32_t struct_size;
  uint16_t host_abi_major;
  uint16_t host_abi_minor;
  const tandem_param_value* params;
  size_t param_count;
  const char* instance_name; /* a label for messages, e.g. "student.scheduler" */
} tandem_create_args;

/*
 * The constant a module's entry point returns. The host reads struct_size, abi_major and abi_minor
 * first, and reads nothing else from a descriptor it refuses.
 */
typedef struct tandem_module_descriptor {
  uint32_t struct_size;
  uint16_t abi_major;  /* TANDEM_ABI_MAJOR the module was built against */
  uint16_t abi_minor;  /* TANDEM_ABI_MINOR the module was built against */
  uint32_t kind;       /* a tandem_kind */
  const char* name;    /* e.g. "warmup_lr"; matched case-insensitively, ignoring '_' and '-' */
  const char* version; /* the module's own version, "MAJOR.MINOR.PATCH" */
  const char* summary; /* one line */
  const tandem_param_spec* params;
  uint32_t param_count;
  /*
   * Makes an instance. Thread safety: may be called from any thread, concurrently.
   * On success *instance is an opaque handle the host passes back to the kind's functions and
   * finally to destroy(). On failure *instance is untouched and err holds the reason.
   */
  tandem_status (*create)(const tandem_create_args* args, void** instance, tandem_error* err);
  /* Frees an instance made by create(). Never fails, never throws. */
  void (*destroy)(void* instance);
  /* The kind's function table (e.g. tandem_scheduler_vtable), beginning with its struct_size. */
  const void* vtable;
} tandem_module_descriptor;

/* The entry point's type. Must not block and must return the same pointer every call. */
typedef const tandem_module_descriptor* (*tandem_module_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TANDEM_ABI_H */
