/* The pipeline tests of tests/test_sampling.c (tests/sampling/pipeline_tests.c). */
#ifndef FG_TESTS_SAMPLING_PIPELINE_TESTS_H
#define FG_TESTS_SAMPLING_PIPELINE_TESTS_H

void test_guider(void);
void test_pipeline(void);
void test_schedule_for_node(void);

#endif
