/* placeholder until the verbs land */
#include <stdio.h>
int main (void) { puts ("capsule-runc " CAPSULE_VERSION); return 0; }
