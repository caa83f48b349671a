/* Test groups of test_image that live in the files of tests/image/. */
#ifndef FG_TESTS_IMAGE_TESTS_H
#define FG_TESTS_IMAGE_TESTS_H

void test_resize_fixture(void);
void test_resize_hand_cases(void);
void test_resize_identity(void);
void test_resize_errors(void);
void test_bislerp_golden(void);
void test_bislerp_hand_cases(void);
void test_bislerp_errors(void);

#endif
