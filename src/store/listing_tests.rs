use super::*;
use crate::store::Store;

/// `(id, status, breached, due_at, created_at)` rows, straight into the table.
fn store_with(tickets: &[(i64, &str, bool, Option<i64>, i64)]) -> Store {
    let store = Store::open_in_memory().unwrap();
    for (id, status, breached, due, created) in tickets {
        store
            .connection()
            .execute(
                "INSERT INTO tickets (id, status, queue, priority, customer, subject,
                    normalized_subject, created_at, last_message_at, due_at, breached)
                 VALUES (?1, ?2, ?3, 'normal', 'c@x.example', 's', 's', ?4, ?4, ?5, ?6)",
                rusqlite::params![
                    id,
                    status,
                    if id % 2 == 0 { "billing" } else { "support" },
                    created,
                    due,
                    breached
                ],
            )
            .unwrap();
    }
    store
}

fn listing(statuses: &[&'static str], order: Order, limit: Option<usize>) -> Listing {
    Listing {
        queue: None,
        statuses: statuses.to_vec(),
        breached: false,
        order,
        limit,
        after: None,
    }
}

/// The ticket ids of one page, and the cursor it ended with.
fn page(store: &Store, listing: &Listing) -> (Vec<i64>, Option<Cursor>) {
    let mut ids = Vec::new();
    let mut next = None;
    list::<anyhow::Error>(store.connection(), listing, |row| {
        ids.push(crate::store::ticket_of_reference(row.ticket.reference));
        next = row.next;
        Ok(())
    })
    .unwrap();
    (ids, next)
}

fn sample() -> Store {
    store_with(&[
        (1, "new", false, Some(500), 10),
        (2, "pending", false, None, 5),
        (3, "acknowledged", true, Some(100), 30),
        (4, "closed", false, Some(50), 1),
        (5, "new", false, Some(200), 40),
        (6, "new", true, Some(300), 20),
        (7, "acknowledged", false, Some(200), 35),
        (8, "ignored", false, None, 2),
        (9, "pending", false, None, 3),
    ])
}

#[test]
fn open_tickets_come_breached_then_nearest_due_then_oldest() {
    let store = sample();
    let (ids, next) = page(&store, &listing(&OPEN, Order::Urgent, Some(50)));
    // breached 3 (due 100), 6 (due 300); then due 200 (7 older than 5), 500; undated by age.
    assert_eq!(ids, [3, 6, 7, 5, 1, 9, 2]);
    assert_eq!(next, None);
    let (ids, _) = page(&store, &listing(&STATUSES, Order::Oldest, None));
    assert_eq!(ids, (1..=9).collect::<Vec<_>>());
    let (ids, _) = page(
        &store,
        &listing(&["closed", "ignored"], Order::Oldest, None),
    );
    assert_eq!(ids, [4, 8]);
}

#[test]
fn pages_continue_after_their_cursor_and_say_when_more_exist() {
    for order in [Order::Urgent, Order::Oldest] {
        let store = sample();
        let mut query = listing(&OPEN, order, Some(2));
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let (ids, next) = page(&store, &query);
            assert!(ids.len() <= 2);
            seen.extend(ids);
            pages += 1;
            if pages == 2 {
                // Filed between two pages: listed at most once, in its place.
                store_with_more(&store, 10);
            }
            match next {
                Some(cursor) => query.after = Some(cursor),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{order:?}: {seen:?}");
        for id in [1, 2, 3, 5, 6, 7, 9] {
            assert!(seen.contains(&id), "{order:?}: {id} in {seen:?}");
        }
        assert!(seen.contains(&10), "{order:?}: the late ticket sorts last");
    }
}

fn store_with_more(store: &Store, id: i64) {
    store
        .connection()
        .execute(
            "INSERT INTO tickets (id, status, queue, priority, customer, subject,
                normalized_subject, created_at, last_message_at, due_at)
             VALUES (?1, 'new', 'support', 'normal', 'd@x.example', 's', 's', 99, 99, 9999)",
            [id],
        )
        .unwrap();
}

#[test]
fn a_full_page_without_more_has_no_cursor() {
    let store = sample();
    let (ids, next) = page(&store, &listing(&["pending"], Order::Urgent, Some(2)));
    assert_eq!((ids, next), (vec![9, 2], None));
    let (ids, next) = page(&store, &listing(&["pending"], Order::Urgent, Some(1)));
    assert_eq!(ids, [9]);
    assert!(next.is_some());
}

#[test]
fn queue_and_breached_filter_within_the_order() {
    let store = sample();
    let mut query = listing(&OPEN, Order::Urgent, Some(50));
    query.breached = true;
    assert_eq!(page(&store, &query).0, [3, 6]);
    query.breached = false;
    query.queue = Some("billing".into());
    assert_eq!(page(&store, &query).0, [6, 2]);
}

#[test]
fn a_cursor_of_the_other_order_is_refused() {
    let store = sample();
    let mut query = listing(&OPEN, Order::Urgent, Some(5));
    query.after = Some(Cursor::Oldest(3));
    let refused = list::<anyhow::Error>(store.connection(), &query, |_| Ok(()));
    assert!(refused.unwrap_err().is::<OtherOrder>());
}

#[test]
fn cursors_read_back_as_written_and_nothing_else_reads() {
    for cursor in [
        Cursor::Urgent([0, NO_DUE, 1_767_225_600, 1]),
        Cursor::Urgent([1, 0, 0, i64::MAX]),
        Cursor::Oldest(1042),
    ] {
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
    }
    for junk in [
        "",
        "u",
        "a",
        "u0-1-2",
        "u0-1-2-3-4",
        "u2-1-2-3",
        "u0-1-2-x",
        "a-5",
        "a8000000000000000",
        "b12",
        "a 12",
    ] {
        assert_eq!(Cursor::parse(junk), None, "{junk}");
    }
}

/// Every page reads each status's part of `tickets_listing` in order from the cursor on: no
/// scan of the table; the only sorts are of each part's at most `limit + 1` rows, for the
/// merge.
#[test]
fn a_page_reads_the_listing_index() {
    let store = sample();
    let mut query = listing(&OPEN, Order::Urgent, Some(50));
    query.after = Some(Cursor::Urgent([0, 200, 35, 7]));
    query.queue = Some("support".into());
    let (sql, values) = statement(&query);
    let params: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
    let plan: Vec<String> = store
        .connection()
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(params.as_slice(), |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let uses = plan
        .iter()
        .filter(|l| {
            l.ends_with(
                "USING INDEX tickets_listing \
                 (status=? AND (listing_unbreached,listing_due,created_at)>(?,?,?))",
            )
        })
        .count();
    assert_eq!(uses, 3, "{plan:#?}");
    assert!(
        !plan.iter().any(|l| l.starts_with("SCAN tickets")),
        "{plan:#?}"
    );
}
