/* The unit tests of models/lora_patch, grouped by file. */
#ifndef FG_TESTS_LP_TESTS_H
#define FG_TESTS_LP_TESTS_H

/* unit_tests.c: strength 0, alpha, rounding order, errors and hostile input. */
void lp_run_unit_tests(void);
/* reference_tests.c: LoHa, LoKr, DoRA, lora_mid, slices, swap, set against double references. */
void lp_run_reference_tests(void);

#endif
