/*
 * etp_plugin.h: the whole contract between the etp host and its plugins.
 *
 * Plain C99. A plugin is a shared object that exports exactly one symbol,
 *
 *     const etp_plugin* etp_plugin_query(const etp_host_api* host);
 *
 * which returns the plugin's table, or NULL when it cannot serve this host (for example a
 * different ABI major). Everything else crosses through the two tables below.
 *
 * Versioning. Every table that crosses the boundary (plugin, backend, host api, init args,
 * named data), in either direction, starts with an etp_abi_header. The small value structs
 * (etp_tensor, etp_value, etp_tensor_layout, etp_kernel, etp_compile_spec, etp_option,
 * etp_cache_entry, etp_cache_user, etp_cache_record) are frozen for a major version: they are
 * passed in arrays or embedded, so their size can never change; a minor that needs more adds a
 * new struct. The major must match exactly; a minor release only appends members at the end of
 * structs, so a reader checks `struct_size` before touching a member that a newer minor added
 * (ETP_ABI_HAS), and a plugin learns the host's minor from host->header at query. Layouts are frozen by static_asserts in the host's tests; never reorder,
 * remove or resize a member. Why these choices: a versioned, size-prefixed table is the one
 * scheme that lets an old host load a new plugin and vice versa without recompiling either
 * (the same idea as IREE's executable plugins and LiteRT's ABI header).
 *
 * Errors. Functions return etp_status (0 = success, ranges below). Messages never travel as
 * heap strings: the side that fails calls host->log with a message naming the operator, key or
 * tensor and what was expected, then returns a status. No function on either side may let a
 * C++ exception escape.
 *
 * Threads. The host calls a plugin's entry points from one thread at a time per object (per
 * kernel call, per delegate handle); a plugin that shares state between objects synchronises it
 * itself. Host services may be called from any thread.
 */
#ifndef ETP_PLUGIN_H_
#define ETP_PLUGIN_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a plugin's one exported symbol when it is built with -fvisibility=hidden (etp's CMake
 * package and pkg-config file build plugins that way):
 *     ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) { ... } */
#ifdef __cplusplus
#define ETP_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define ETP_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------------------------ */
/* Versioning                                                                                 */

#define ETP_ABI_MAJOR 1
#define ETP_ABI_MINOR 3
/* Minor 1 appended etp_backend_init_args.method_id and etp_plugin.cache_report.
 * Minor 2 appended etp_plugin.accept_kernel_call (kernels may decline calls: ETP_ERR_DECLINED),
 * etp_plugin.cache_records (structured users, etp_cache_record), and the host's thread pool
 * (etp_host_api.parallel_for, thread_count).
 * Minor 3 appended the bundle's memory budget: etp_backend_init_args.memory_budget and
 * etp_host_api.charge_memory, release_memory. */

/* The head of every struct crossing the boundary. */
typedef struct etp_abi_header {
  uint32_t struct_size; /* sizeof the struct as its producer compiled it */
  uint16_t major;       /* ETP_ABI_MAJOR of the producer */
  uint16_t minor;       /* ETP_ABI_MINOR of the producer */
} etp_abi_header;

/* Initialiser for a header of struct type T, e.g. `ETP_ABI_HEADER(etp_plugin)`. */
#define ETP_ABI_HEADER(T) {(uint32_t)sizeof(T), ETP_ABI_MAJOR, ETP_ABI_MINOR}

/* True when `obj` (a pointer to a struct whose first member is `header`) has the same major
 * and was produced large enough to contain `member`. */
#define ETP_ABI_HAS_FIELD(obj, member)                                               \
  ((obj) != NULL && (obj)->header.major == ETP_ABI_MAJOR &&                         \
   (size_t)((const char*)&(obj)->member - (const char*)(obj)) + sizeof((obj)->member) <= \
       (size_t)(obj)->header.struct_size)

/* ETP_ABI_HAS_FIELD plus: the member (a pointer or function pointer) is non-NULL. Guards every
 * optional slot and every slot a later minor appended. */
#define ETP_ABI_HAS(obj, member) (ETP_ABI_HAS_FIELD(obj, member) && (obj)->member != NULL)

/* ------------------------------------------------------------------------------------------ */
/* Status codes                                                                                */

typedef int32_t etp_status;

#define ETP_OK 0
/* 1..99: the arguments of a call are wrong (caller's mistake, e.g. a dtype a kernel lacks). */
#define ETP_ERR_INVALID_ARGUMENT 1
#define ETP_ERR_DTYPE 2 /* a tensor has a dtype the callee does not handle */
#define ETP_ERR_SHAPE 3 /* a tensor has a shape or rank the callee does not accept */
/* 100..199: something is missing or unavailable. */
#define ETP_ERR_NOT_FOUND 100     /* operator, backend, key */
#define ETP_ERR_NOT_SUPPORTED 101 /* valid request the callee does not implement */
#define ETP_ERR_OUT_OF_MEMORY 102
#define ETP_ERR_UNAVAILABLE 103 /* e.g. a backend whose hardware is absent */
/* (minor 2) From accept_kernel_call only: this kernel does not handle this call; the host
 * offers the call to the next plugin that provides the operator. Not an error, never logged. */
#define ETP_ERR_DECLINED 104
/* 200..299: data is malformed (a delegate payload, a named blob). */
#define ETP_ERR_MALFORMED 200
/* 300..399: the callee is in a state that forbids the call, or has a bug. */
#define ETP_ERR_INVALID_STATE 300
#define ETP_ERR_INTERNAL 301
/* 1000 and up: plugin-specific; the plugin logs what it means. */
#define ETP_ERR_PLUGIN_BASE 1000

/* ------------------------------------------------------------------------------------------ */
/* Tensors and values                                                                          */

/* Element types use ExecuTorch's ScalarType numbers, so values from files pass through. */
typedef enum etp_dtype {
  ETP_DTYPE_UINT8 = 0,
  ETP_DTYPE_INT8 = 1,
  ETP_DTYPE_INT16 = 2,
  ETP_DTYPE_INT32 = 3,
  ETP_DTYPE_INT64 = 4,
  ETP_DTYPE_FLOAT16 = 5,
  ETP_DTYPE_FLOAT32 = 6,
  ETP_DTYPE_FLOAT64 = 7,
  ETP_DTYPE_COMPLEX32 = 8, /* two float16: real, imaginary */
  ETP_DTYPE_COMPLEX64 = 9, /* two float32 */
  ETP_DTYPE_COMPLEX128 = 10, /* two float64 */
  ETP_DTYPE_BOOL = 11,
  ETP_DTYPE_QINT8 = 12,
  ETP_DTYPE_QUINT8 = 13,
  ETP_DTYPE_QINT32 = 14,
  ETP_DTYPE_BFLOAT16 = 15,
  ETP_DTYPE_UINT16 = 27,
  ETP_DTYPE_UINT32 = 28,
  ETP_DTYPE_UINT64 = 29
} etp_dtype;

/* How a tensor's shape may change (ExecuTorch's TensorShapeDynamism). */
typedef enum etp_dynamism {
  ETP_DYNAMISM_STATIC = 0,       /* sizes never change */
  ETP_DYNAMISM_DYNAMIC_BOUND = 1 /* sizes may shrink within the planned bound */
} etp_dynamism;

#define ETP_MAX_RANK 16

/* A host-owned tensor. Plugins read every member and write only the bytes at `data`; shapes
 * change only through etp_host_api.resize_tensor, so the host can enforce planned bounds.
 * Pointers stay valid for the lifetime of the method that owns the tensor; `data` may change
 * between calls (inputs), never during one. */
typedef struct etp_tensor {
  int32_t dtype;              /* etp_dtype */
  int32_t rank;               /* 0..ETP_MAX_RANK */
  const int64_t* sizes;       /* [rank], current logical sizes */
  const uint8_t* dim_order;   /* [rank], outermost to innermost dim in memory */
  const int64_t* strides;     /* [rank], in elements, derived from sizes and dim_order */
  void* data;                 /* may be NULL only when nbytes == 0 */
  uint64_t nbytes;            /* bytes of the current shape */
  uint64_t capacity;          /* bytes available at data (the planned bound) */
  int32_t dynamism;           /* etp_dynamism */
  uint32_t reserved;          /* zero */
} etp_tensor;

typedef enum etp_value_tag {
  ETP_VALUE_NONE = 0,
  ETP_VALUE_INT = 1,
  ETP_VALUE_DOUBLE = 2,
  ETP_VALUE_BOOL = 3,
  ETP_VALUE_STRING = 4,
  ETP_VALUE_TENSOR = 5,
  ETP_VALUE_INT_LIST = 6,
  ETP_VALUE_DOUBLE_LIST = 7,
  ETP_VALUE_BOOL_LIST = 8,
  ETP_VALUE_TENSOR_LIST = 9,
  ETP_VALUE_OPTIONAL_TENSOR_LIST = 10
} etp_value_tag;

/* A tagged value: one argument of a kernel or delegate call. Host-owned. A kernel writes
 * scalar results (the trailing return slot of functional and prim operators) into `u.i`,
 * `u.d` or `u.b` of its return value; everything else is read-only. */
typedef struct etp_value {
  int32_t tag; /* etp_value_tag */
  uint32_t reserved;
  union {
    int64_t i;
    double d;
    bool b;
    struct {
      const char* data; /* not NUL-terminated */
      uint64_t size;
    } string;
    etp_tensor* tensor;
    struct {
      const int64_t* items; /* current values; the host refreshes symbolic ones before a call */
      uint64_t count;
    } int_list;
    struct {
      const double* items;
      uint64_t count;
    } double_list;
    struct {
      const bool* items;
      uint64_t count;
    } bool_list;
    struct {
      etp_tensor* const* items; /* for OPTIONAL_TENSOR_LIST, NULL items are None */
      uint64_t count;
    } tensor_list;
  } u;
} etp_value;

/* The dtype, sizes and dim order a data file records for a named tensor. Sizes are int32 here
 * because this struct mirrors the file formats (ExecuTorch's .pte and .ptd store sizes as
 * int32); etp_tensor.sizes are int64 so that a kernel's products of sizes and strides never
 * overflow before it widens them. */
typedef struct etp_tensor_layout {
  int32_t dtype;
  int32_t rank;
  const int32_t* sizes;
  const uint8_t* dim_order;
  uint64_t nbytes;
} etp_tensor_layout;

/* ------------------------------------------------------------------------------------------ */
/* Host services                                                                               */

typedef enum etp_log_level {
  ETP_LOG_DEBUG = 0,
  ETP_LOG_INFO = 1,
  ETP_LOG_WARNING = 2,
  ETP_LOG_ERROR = 3 /* the host attaches the last ERROR message to the failure it reports */
} etp_log_level;

/* A view of named data (a weight) a backend asked for. Borrowed from the host until the
 * backend calls release_named_data with the same key and map, or its handle is destroyed. */
typedef struct etp_named_data {
  etp_abi_header header;
  const void* data;
  uint64_t size;
  const etp_tensor_layout* layout; /* NULL for blobs stored without a layout */
  uint64_t file_id;     /* identifies the data file across every program of the bundle; 0 for
                           data stored inside the program */
  bool cache_owned;     /* the manifest gives this file's weight cache to the asking plugin:
                           pack it once for all programs, keyed by (file_id, key) */
} etp_named_data;

/* Opaque handle of the named data visible to one delegate (data files, then the program). */
typedef struct etp_named_data_map etp_named_data_map;

/* (Minor 3) Opaque handle of the memory budget of one bundle (see etp_host_api.charge_memory). */
typedef struct etp_memory_budget etp_memory_budget;

/* (Minor 2) One piece of a parallel_for: items [begin, end) of the range. */
typedef void (*etp_parallel_task)(void* context, uint64_t begin, uint64_t end);

typedef struct etp_host_api {
  etp_abi_header header;
  void* self; /* pass as the first argument of every function below */

  /* Logs `message` (NUL-terminated, copied before return). Thread-safe. */
  void (*log)(void* self, int32_t level, const char* message);

  /* Aligned allocation for plugin state; `alignment` a power of two. NULL on failure. */
  void* (*allocate)(void* self, uint64_t size, uint64_t alignment);
  void (*free)(void* self, void* pointer);

  /* Sets the shape of an output tensor; `rank` must equal the tensor's rank (its dim order is
   * kept). Fails with ETP_ERR_SHAPE (and logs why) when the rank differs, the tensor is static
   * and the shape differs, or the shape exceeds its planned capacity. */
  etp_status (*resize_tensor)(void* self, etp_tensor* tensor, int32_t rank, const int64_t* sizes);

  /* Finds `key` in `map`. ETP_ERR_NOT_FOUND when absent. *out must have its header set by the
   * caller (the host fills members up to out->header.struct_size). */
  etp_status (*find_named_data)(void* self, const etp_named_data_map* map, const char* key, etp_named_data* out);

  /* The caller no longer needs the bytes of `key` (e.g. after packing); the host may drop
   * the pages. Views obtained for the key must not be used afterwards. */
  void (*release_named_data)(void* self, const etp_named_data_map* map, const char* key);

  /* --- minor 2 --- */
  /* The host's thread pool, shared by every plugin of a bundle and sized by its manifest
   * (`threads:`), so plugins need no threads of their own. Runs task(context, begin, end) over
   * [0, count) in chunks of `grain` items (the last may be shorter; 0 lets the host choose) and
   * returns when every chunk has run. The calling thread runs chunks too and never waits for a
   * pool thread that has not started, so on a busy machine a call slows to one thread's speed,
   * never less; idle pool threads sleep. Chunks run concurrently in any order: a task writes
   * disjoint outputs per chunk (so results do not depend on the thread count) and must not
   * throw. A call made from inside a task, or while another thread's call holds the pool, runs
   * all its chunks on the calling thread. Check ETP_ABI_HAS(host, parallel_for); older hosts
   * lack it (then run the range on the calling thread). */
  void (*parallel_for)(void* self, uint64_t count, uint64_t grain, etp_parallel_task task, void* context);
  /* Threads parallel_for may use, the caller's included (>= 1). */
  uint32_t (*thread_count)(void* self);

  /* --- minor 3 --- */
  /* Charges `bytes` to `budget` (etp_backend_init_args.memory_budget) before the backend
   * allocates memory whose size the payload decides (scratch, workspaces), so a small file that
   * declares huge sizes fails cleanly instead of taking the machine's memory. ETP_OK when they
   * fit under the budget's limit (a NULL budget always succeeds); otherwise ETP_ERR_OUT_OF_MEMORY,
   * nothing charged, and the host keeps a message saying what was left (no need to log one).
   * Give the bytes back with release_memory when the memory is freed. Thread-safe. */
  etp_status (*charge_memory)(void* self, etp_memory_budget* budget, uint64_t bytes);
  void (*release_memory)(void* self, etp_memory_budget* budget, uint64_t bytes);
} etp_host_api;

/* ------------------------------------------------------------------------------------------ */
/* Kernels                                                                                     */

/* Runs one operator. `args` holds one value per schema argument, in schema order, plus a
 * trailing return slot (for out-variants the same value as `out`). Returns ETP_OK or an error
 * after logging what was wrong. Must not allocate on the hot path if it can be avoided. */
typedef etp_status (*etp_kernel_fn)(void* kernel_self, const etp_host_api* host, etp_value* const* args,
                                    uint32_t num_args);

typedef struct etp_kernel {
  etp_kernel_fn fn;
  void* self; /* passed back as kernel_self; owned by the plugin */
} etp_kernel;

/* ------------------------------------------------------------------------------------------ */
/* Backends                                                                                    */

typedef struct etp_compile_spec {
  const char* key; /* NUL-terminated */
  const void* value;
  uint64_t value_size;
} etp_compile_spec;

/* Everything a backend gets to initialise one delegate. All borrowed for the init call only,
 * except `named_data`, which stays valid until destroy of the handle. */
typedef struct etp_backend_init_args {
  etp_abi_header header;
  const void* payload; /* the delegate blob; valid until destroy */
  uint64_t payload_size;
  const etp_compile_spec* compile_specs;
  uint32_t num_compile_specs;
  const etp_named_data_map* named_data;
  const char* program_name; /* for messages */
  const char* method_name;
  uint32_t delegate_index;

  /* --- minor 1 --- */
  /* Identifies the loaded method instance the delegate belongs to. Delegates with the same
   * method_id never execute concurrently (a method runs on one thread at a time), so a backend
   * may let them share scratch memory. Never 0. */
  uint64_t method_id;

  /* --- minor 3 --- */
  /* The memory budget of the bundle the method belongs to (the manifest's memory_budget), for
   * host->charge_memory. Stays valid until destroy of the handle (and of every handle of the same
   * method_id, for memory those delegates share); NULL when nothing is budgeted. */
  etp_memory_budget* memory_budget;
} etp_backend_init_args;

typedef struct etp_backend {
  etp_abi_header header;
  const char* id; /* the backend id programs name, e.g. "XnnpackBackend"; valid until shutdown */
  void* self;     /* the plugin's object for this backend, passed back as the first argument of
                     init, execute and destroy (the host never reads it); may be NULL */

  /* Compiles one delegate. On success *out_handle is the backend's object for it. */
  etp_status (*init)(void* self, const etp_backend_init_args* args, void** out_handle);
  /* Runs a delegate: args are its inputs followed by its outputs, as in the program. */
  etp_status (*execute)(void* self, void* handle, etp_value* const* args, uint32_t num_args);
  /* Frees everything init made for the handle. */
  void (*destroy)(void* self, void* handle);
} etp_backend;

/* ------------------------------------------------------------------------------------------ */
/* The plugin                                                                                  */

/* (Minor 1; superseded by etp_cache_record in minor 2, kept for hosts of minor 1.)
 * One entry of a plugin's packed weights: either shared by every program of the bundle
 * (ETP_CACHE_ENTRY_SHARED, the weight cache proper) or private to one delegate. Strings are owned
 * by the plugin and stay valid until its next cache_report call. */
#define ETP_CACHE_ENTRY_SHARED 0x1u
typedef struct etp_cache_entry {
  const char* key;       /* plugin-defined, names the weights (e.g. data-file id and named key) */
  uint64_t file_id;      /* etp_named_data.file_id of the data file the weights come from (0: the program) */
  uint64_t packed_bytes; /* bytes the packed copy holds */
  uint32_t num_users;    /* delegates currently using the entry */
  uint32_t flags;        /* ETP_CACHE_ENTRY_* */
  const char* users;     /* the users' names ("<program>:<method>:<delegate>"), separated by '\n' */
} etp_cache_entry;

/* (Minor 2) One delegate using a cache entry, named by what its init received, so the host
 * can attribute packed bytes to programs and methods without parsing strings. */
typedef struct etp_cache_user {
  uint64_t method_id;      /* etp_backend_init_args.method_id */
  uint32_t delegate_index; /* etp_backend_init_args.delegate_index */
  uint32_t reserved;       /* zero */
} etp_cache_user;

/* (Minor 2) One entry of a plugin's packed weights, shared (ETP_CACHE_ENTRY_SHARED, the weight
 * cache proper) or private to one delegate. Pointers are owned by the plugin and stay valid
 * until its next cache_records call. */
typedef struct etp_cache_record {
  const char* key;       /* plugin-defined, names the weights (e.g. data-file id and named key) */
  uint64_t file_id;      /* etp_named_data.file_id of the data file the weights come from (0: the program) */
  uint64_t packed_bytes; /* bytes the packed copy holds */
  uint32_t flags;        /* ETP_CACHE_ENTRY_* */
  uint32_t num_users;    /* delegates currently using the entry */
  const etp_cache_user* users; /* [num_users] */
} etp_cache_record;

/* A key/value option from the manifest (`options:`), both NUL-terminated strings. */
typedef struct etp_option {
  const char* key;
  const char* value;
} etp_option;

/* The plugin's table. Lifetimes: the table, `name`, `version`, every backend table and id, and
 * every string kernel_name returns stay valid from query until shutdown returns (static
 * storage is the usual choice); the host copies what it keeps longer.
 *
 * Life cycle: query, then init (if present), then any number of calls, then shutdown (if
 * present) after every kernel, delegate handle and method that used the plugin is gone. A
 * failed init is not followed by shutdown: init frees what it made before returning an error,
 * and the host unloads the library. Without init, shutdown follows query.
 *
 * Which plugin serves what (the host's policy, ABI 1.2): plugins are consulted in the
 * manifest's order. For an operator, the first plugin whose resolve_kernel finds it and whose
 * accept_kernel_call (if any) accepts the instruction serves that instruction; the choice is
 * made once per instruction when the method loads. For a backend id, the first plugin that
 * lists it serves every delegate with that id (later plugins offering it are reported, not
 * used). `etp run --verbose` and `etp inspect --coverage` show each choice. */
typedef struct etp_plugin {
  etp_abi_header header;
  const char* name;    /* short name for messages, e.g. "portable" */
  const char* version; /* free-form */
  void* self;          /* passed back to every function below */

  /* Optional. Configures the plugin once after query, before anything else. Unknown option
   * keys should be an error (logged). */
  etp_status (*init)(void* self, const etp_option* options, uint32_t num_options);
  /* Optional. Called once when the host is done with the plugin, after every kernel and
   * backend object it made is gone, and only if init (when present) succeeded; the library is
   * unloaded afterwards. */
  void (*shutdown)(void* self);

  /* Optional (kernel plugins). Finds the kernel for an operator name such as "aten::add.out".
   * ETP_ERR_NOT_FOUND, without logging, when this plugin lacks it. Called at method load. */
  etp_status (*resolve_kernel)(void* self, const char* op_name, etp_kernel* out_kernel);
  /* Optional. Number of operator names resolve_kernel knows, and the name at `index`. */
  uint32_t (*num_kernels)(void* self);
  const char* (*kernel_name)(void* self, uint32_t index);

  /* Backends this plugin serves (may be 0). Borrowed until shutdown. */
  uint32_t num_backends;
  const etp_backend* const* backends;

  /* --- minor 1 --- */
  /* Optional. Describes the plugin's packed weights, shared and private: fills up to `capacity`
   * entries and returns how many exist (call with capacity 0 to count). Thread-safe. A host of
   * minor 2 or later calls cache_records instead when the plugin has it. */
  uint32_t (*cache_report)(void* self, etp_cache_entry* entries, uint32_t capacity);

  /* --- minor 2 --- */
  /* Optional. Asked once per kernel instruction when a method loads, after resolve_kernel
   * found `kernel` for `op_name`: will the kernel run this call? `args` are the instruction's
   * values as they stand at load: tensors carry their dtypes, ranks, dim orders and dynamism;
   * sizes are final for static tensors and upper bounds for DYNAMIC_BOUND ones (accept only if
   * every shape within the bound is handled); `data` may be NULL and must not be read or
   * written; scalars that earlier instructions write are not final. Returns ETP_OK to serve the
   * call, ETP_ERR_DECLINED (without logging) to let the next plugin that provides the operator
   * serve it, or an error (logged) that fails the load. Without this slot every call is
   * accepted. Because the choice is made at load, a kernel's execute path has no fallback
   * branch, and returning ETP_ERR_DECLINED from a kernel call is an error.
   *
   * A host of minor 1 never asks: a plugin whose kernels decline calls must, when
   * host->header.minor < 2 at query, resolve only kernels that handle every call. */
  etp_status (*accept_kernel_call)(void* self, const char* op_name, const etp_kernel* kernel,
                                   etp_value* const* args, uint32_t num_args);
  /* Optional. As cache_report, with each entry's users as structured etp_cache_user values:
   * fills up to `capacity` records and returns how many exist (capacity 0 counts). Pointers in
   * the records stay valid until the next call. Thread-safe. */
  uint32_t (*cache_records)(void* self, etp_cache_record* records, uint32_t capacity);
} etp_plugin;

/* The one symbol a plugin exports. */
#define ETP_PLUGIN_QUERY_SYMBOL "etp_plugin_query"
typedef const etp_plugin* (*etp_plugin_query_fn)(const etp_host_api* host);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ETP_PLUGIN_H_ */
