// glibc's malloc extensions (malloc_trim), for returning freed heap memory to the system.
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif
