//! [`crate::store::Store`]'s fallback methods on both backends.

use std::time::Duration;

use crate::store::test_support::*;
use crate::store::*;

const LEASE: Duration = Duration::from_secs(60);

/// Recipient `r0` on zalo and email (the step's channels), e-mail skipped when
/// `email` is false (no address).
pub(in crate::store) async fn step(
    store: &Store,
    email: bool,
) -> (crate::store::OccurrenceRow, Vec<Claimed>) {
    let occ = seed(store).await;
    let zalo = message(&occ, "r0", "zalo");
    let mut mail = message(&occ, "r0", "email");
    if !email {
        mail.address = None;
        mail.state = NewState::Skipped {
            reason: "no email".into(),
        };
    }
    store.insert_messages(&[zalo, mail], T0).await.unwrap();
    let claimed = store.claim("w", T0, LEASE, 10, &[]).await.unwrap();
    (occ, claimed)
}

pub(in crate::store) fn failed(c: &Claimed) -> Outcome {
    outcome(
        c,
        OutcomeKind::Failed {
            code: Some("-118".into()),
            error: "no Zalo account".into(),
        },
    )
}

pub(in crate::store) fn outcome(c: &Claimed, result: OutcomeKind) -> Outcome {
    Outcome {
        id: c.id,
        attempt: c.attempt,
        owner: "w".into(),
        started_at: T0,
        duration_ms: 1,
        result,
    }
}

pub(in crate::store) fn sms(occ: &crate::store::OccurrenceRow, of: &Claimed) -> NewMessage {
    let mut m = message(occ, "r0", "sms");
    m.address = Some("84912000001".into());
    m.fallback_of = Some(of.id);
    m
}

pub(in crate::store) async fn states(store: &Store) -> Vec<(String, String)> {
    with_pool!(store, |pool, sql| sqlx::query_as(sql(
        "SELECT channel, state FROM message ORDER BY channel"
    ))
    .fetch_all(pool)
    .await
    .unwrap())
}

pub(in crate::store) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

on_both! {
    async fn no_fallback_while_a_sibling_may_still_reach_the_recipient_or_did(store) {
        let (occ, claimed) = step(&store, true).await;
        let (zalo, email) = (&claimed[0], &claimed[1]);
        assert_eq!(
            (zalo.channel.as_str(), email.channel.as_str()),
            ("zalo", "email")
        );
        // Zalo fails while the e-mail is still in flight: no SMS.
        let offer = sms(&occ, zalo);
        store
            .record_with_fallbacks(&[failed(zalo)], &[offer], T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            states(&store).await,
            pairs(&[("email", "sending"), ("zalo", "failed")])
        );
        // The e-mail goes: still no SMS, and zalo's failure stays a failure.
        let sent = outcome(email, OutcomeKind::Sent { provider_id: None });
        store
            .record_with_fallbacks(&[sent], &[], T0 + 2)
            .await
            .unwrap();
        assert_eq!(
            states(&store).await,
            pairs(&[("email", "sent"), ("zalo", "failed")])
        );
    }

    async fn when_the_last_channel_fails_the_fallback_goes_once_even_for_two_offers_in_one_batch(store) {
        let (occ, claimed) = step(&store, true).await;
        let (zalo, email) = (&claimed[0], &claimed[1]);
        let outcomes = [failed(zalo), failed(email)];
        let offers = [sms(&occ, zalo), sms(&occ, email)];
        store
            .record_with_fallbacks(&outcomes, &offers, T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            states(&store).await,
            pairs(&[
                ("email", "replaced"),
                ("sms", "pending"),
                ("zalo", "replaced")
            ])
        );
        assert_events_complete(&store).await;
    }

    async fn an_outcome_whose_fence_failed_offers_nothing(store) {
        let (occ, claimed) = step(&store, false).await;
        let zalo = &claimed[0];
        let mut stale = failed(zalo);
        stale.owner = "someone-else".into();
        store
            .record_with_fallbacks(&[stale], &[sms(&occ, zalo)], T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            states(&store).await,
            pairs(&[("email", "skipped"), ("zalo", "sending")])
        );
    }

    async fn a_fallback_without_an_address_is_skipped_and_the_failure_stays_visible(store) {
        let (occ, claimed) = step(&store, false).await;
        let zalo = &claimed[0];
        let mut offer = sms(&occ, zalo);
        offer.address = None;
        offer.state = NewState::Skipped {
            reason: "no phone for the fallback".into(),
        };
        store
            .record_with_fallbacks(&[failed(zalo)], &[offer], T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            states(&store).await,
            pairs(&[("email", "skipped"), ("sms", "skipped"), ("zalo", "failed")])
        );
    }
}
