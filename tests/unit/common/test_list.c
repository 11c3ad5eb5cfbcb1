/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/list.h"

struct item {
    int v;
    eip_list_node node;
};

static int values(eip_list *l, int *out, int cap)
{
    int n = 0;
    eip_list_node *pos;
    eip_list_foreach(l, pos)
    {
        if (n < cap)
            out[n] = eip_container_of(pos, struct item, node)->v;
        n++;
    }
    return n;
}

static void push_pop_keep_order(void **state)
{
    (void)state;
    eip_list l;
    eip_list_init(&l);
    assert_true(eip_list_empty(&l));
    assert_null(eip_list_first(&l));
    struct item a = {.v = 1}, b = {.v = 2}, c = {.v = 3};
    eip_list_push_back(&l, &b.node);
    eip_list_push_back(&l, &c.node);
    eip_list_push_front(&l, &a.node);
    int got[4];
    assert_int_equal(values(&l, got, 4), 3);
    assert_int_equal(l.len, 3);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 3);
    assert_ptr_equal(eip_list_last(&l), &c.node);
    assert_ptr_equal(eip_list_next(&l, &a.node), &b.node);
    assert_null(eip_list_next(&l, &c.node));
    assert_ptr_equal(eip_list_pop_front(&l), &a.node);
    assert_false(eip_list_linked(&a.node));
    assert_int_equal(l.len, 2);
}

static void remove_is_idempotent(void **state)
{
    (void)state;
    eip_list l;
    eip_list_init(&l);
    struct item a = {.v = 1}, b = {.v = 2};
    eip_list_node_init(&a.node);
    eip_list_remove(&l, &a.node); /* in no list: nothing happens */
    assert_int_equal(l.len, 0);
    eip_list_push_back(&l, &a.node);
    eip_list_push_back(&l, &b.node);
    eip_list_remove(&l, &a.node);
    eip_list_remove(&l, &a.node);
    assert_int_equal(l.len, 1);
    assert_ptr_equal(eip_list_first(&l), &b.node);
}

static void foreach_safe_allows_removal(void **state)
{
    (void)state;
    eip_list l;
    eip_list_init(&l);
    struct item it[6];
    for (int i = 0; i < 6; i++) {
        it[i].v = i;
        eip_list_push_back(&l, &it[i].node);
    }
    eip_list_node *pos, *tmp;
    eip_list_foreach_safe(&l, pos, tmp)
    {
        if (eip_container_of(pos, struct item, node)->v % 2 == 0)
            eip_list_remove(&l, pos);
    }
    int got[6];
    assert_int_equal(values(&l, got, 6), 3);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 5);
}

static void move_appends_and_empties_the_source(void **state)
{
    (void)state;
    eip_list a, b;
    eip_list_init(&a);
    eip_list_init(&b);
    struct item it[5];
    for (int i = 0; i < 5; i++) {
        it[i].v = i;
        eip_list_push_back(i < 2 ? &a : &b, &it[i].node);
    }
    eip_list_move(&a, &b);
    assert_true(eip_list_empty(&b));
    assert_int_equal(b.len, 0);
    int got[5];
    assert_int_equal(values(&a, got, 5), 5);
    assert_int_equal(a.len, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(got[i], i);
    /* The moved nodes unlink from their new list, and b works again. */
    eip_list_remove(&a, &it[4].node);
    assert_ptr_equal(eip_list_last(&a), &it[3].node);
    eip_list_push_back(&b, &it[4].node);
    assert_ptr_equal(eip_list_first(&b), &it[4].node);
    /* Moving an empty list changes nothing; into an empty list takes all. */
    eip_list c;
    eip_list_init(&c);
    eip_list_move(&a, &c);
    assert_int_equal(a.len, 4);
    eip_list_move(&c, &a);
    assert_int_equal(values(&c, got, 5), 4);
    assert_int_equal(got[3], 3);
    assert_true(eip_list_empty(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(push_pop_keep_order),
        cmocka_unit_test(remove_is_idempotent),
        cmocka_unit_test(foreach_safe_allows_removal),
        cmocka_unit_test(move_appends_and_empties_the_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
