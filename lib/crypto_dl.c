/* libcrypto on demand; see crypto_dl.h for why. */
#include "crypto_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct capsule_crypto table;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void
load (void)
{
  /* RTLD_LOCAL: nothing else in the process should bind to it by accident. */
  void *h = dlopen (CAPSULE_LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL)
    {
      const char *e = dlerror ();
      snprintf (load_error, sizeof load_error, "%s", e ? e : "dlopen failed");
      return;
    }
  struct capsule_crypto t;
#define CAPSULE_CRYPTO_LOOKUP(f)                                                                                     \
  {                                                                                                                  \
    void *p = dlsym (h, #f);                                                                                         \
    if (p == NULL)                                                                                                   \
      {                                                                                                              \
        snprintf (load_error, sizeof load_error, "missing symbol %s", #f);                                           \
        dlclose (h);                                                                                                 \
        return;                                                                                                      \
      }                                                                                                              \
    memcpy (&t.f, &p, sizeof p);                                                                                     \
  }
  CAPSULE_CRYPTO_FUNCS (CAPSULE_CRYPTO_LOOKUP)
#undef CAPSULE_CRYPTO_LOOKUP
  table = t;
  load_error[0] = '\0';
}

const struct capsule_crypto *
capsule_crypto (cr_error_t *err)
{
  pthread_once (&once, load);
  if (table.ERR_get_error == NULL)
    {
      cr_error (err, 0, "load " CAPSULE_LIBCRYPTO_SONAME ": %s", load_error[0] ? load_error : "not loaded");
      return NULL;
    }
  return &table;
}

int
capsule_crypto_is_mapped (void)
{
  void *h = dlopen (CAPSULE_LIBCRYPTO_SONAME, RTLD_NOW | RTLD_NOLOAD);
  if (h == NULL)
    return 0;
  dlclose (h);
  return 1;
}
