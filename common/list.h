/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_LIST_H
#define EIP_COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* The one intrusive doubly-linked list of the project (libuv's queue.h, the
 * Linux kernel's list.h): embed an eip_list_node in the element, keep an
 * eip_list as the head, get back to the element with eip_container_of.
 * A node that is in no list points at itself, so eip_list_remove() is safe to
 * call twice. Nothing allocates; nothing can fail. */

typedef struct eip_list_node {
    struct eip_list_node *prev, *next;
} eip_list_node;

/* The head is a node too: an empty list points at itself. */
typedef struct eip_list {
    eip_list_node head;
    size_t len;
} eip_list;

#define eip_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void eip_list_init(eip_list *l)
{
    l->head.prev = l->head.next = &l->head;
    l->len = 0;
}

static inline void eip_list_node_init(eip_list_node *n)
{
    n->prev = n->next = n;
}

/* Whether n is in a list (after eip_list_node_init or eip_list_remove it is not). */
static inline bool eip_list_linked(const eip_list_node *n)
{
    return n->next != n;
}

static inline bool eip_list_empty(const eip_list *l)
{
    return l->head.next == &l->head;
}

static inline void eip_list_insert_between(eip_list_node *n, eip_list_node *prev,
                                           eip_list_node *next)
{
    n->prev = prev;
    n->next = next;
    prev->next = n;
    next->prev = n;
}

static inline void eip_list_push_back(eip_list *l, eip_list_node *n)
{
    eip_list_insert_between(n, l->head.prev, &l->head);
    l->len++;
}

static inline void eip_list_push_front(eip_list *l, eip_list_node *n)
{
    eip_list_insert_between(n, &l->head, l->head.next);
    l->len++;
}

/* Unlinks n from l (n must be in l, or in no list: then nothing happens). */
static inline void eip_list_remove(eip_list *l, eip_list_node *n)
{
    if (!eip_list_linked(n))
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    eip_list_node_init(n);
    l->len--;
}

static inline eip_list_node *eip_list_first(const eip_list *l)
{
    return eip_list_empty(l) ? NULL : l->head.next;
}

static inline eip_list_node *eip_list_last(const eip_list *l)
{
    return eip_list_empty(l) ? NULL : l->head.prev;
}

/* The node after n in l, or NULL at the end. */
static inline eip_list_node *eip_list_next(const eip_list *l, const eip_list_node *n)
{
    return n->next == &l->head ? NULL : n->next;
}

static inline eip_list_node *eip_list_pop_front(eip_list *l)
{
    eip_list_node *n = eip_list_first(l);
    if (n)
        eip_list_remove(l, n);
    return n;
}

/* Moves every node of src, in order, to the end of dst; src is left empty. For
 * detaching a whole list before walking it while callbacks may add to the source. */
static inline void eip_list_move(eip_list *dst, eip_list *src)
{
    if (eip_list_empty(src))
        return;
    eip_list_node *first = src->head.next, *last = src->head.prev;
    first->prev = dst->head.prev;
    dst->head.prev->next = first;
    last->next = &dst->head;
    dst->head.prev = last;
    dst->len += src->len;
    eip_list_init(src);
}

/* Iterates over the nodes of l; the current node may be removed (pos is the
 * node, tmp holds the next one). */
#define eip_list_foreach_safe(l, pos, tmp)                                                         \
    for ((pos) = (l)->head.next, (tmp) = (pos)->next; (pos) != &(l)->head;                         \
         (pos) = (tmp), (tmp) = (pos)->next)

#define eip_list_foreach(l, pos)                                                                   \
    for ((pos) = (l)->head.next; (pos) != &(l)->head; (pos) = (pos)->next)

#endif
