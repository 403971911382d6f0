/* ipvs_module.c: the C decoder as one translation unit. Its parts are
 * files of their own (each under 450 lines), compiled together so that
 * the compiler inlines across them (the line parser into the column
 * decoder's and the renderer's loops: 25% of the -Lnc renderer's time
 * when they were compiled apart).
 */
#include "ipvs_decoder.c" /* the system headers and ipvs_decoder.h, once */
#include "ipvs_connline.c"
#include "ipvs_conns.c"
#include "ipvs_render.c"
#include "ipvs_proctext.c" /* after ipvs_render.c: dec64, pad */
#include "ipvs_dumps.c"
#include "ipvs_lines.c"
#include "ipvs_rules.c"
