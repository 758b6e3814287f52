//! Two pieces of work at once: the engine calls tent makes side by side
//! (issue 24: each is its own engine process, mostly waiting).

/// Runs `a` on a second thread while `b` runs on this one; both results.
/// A panic in `a` goes on in the caller, as one in `b` does.
pub(crate) fn at_once<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|s| {
        let first = s.spawn(a);
        let second = b();
        (first.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), second)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_results_come_back_and_a_panic_goes_on() {
        assert_eq!(at_once(|| 1, || "two"), (1, "two"));
        let caught = std::panic::catch_unwind(|| at_once(|| panic!("in the thread"), || 2));
        assert_eq!(caught.unwrap_err().downcast_ref::<&str>(), Some(&"in the thread"));
    }
}
