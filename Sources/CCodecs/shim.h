// Debian's compression libraries, as Parquet pages and Arrow IPC buffers use them:
// libsnappy-dev, libzstd-dev, zlib1g-dev, liblz4-dev.
#include <snappy-c.h>
#include <zstd.h>
#include <zlib.h>
#include <lz4.h>
#include <lz4frame.h>
