/* placeholder */
typedef int qtm_placeholder_scan;
