//! Heap allocations per A lookup, end to end through the library (resolver on a reactor,
//! query, reply validation, typed answer): a counting global allocator around `System`.
//!
//!     cargo bench --bench dns_alloc -- SERVER:PORT NAME [COUNT]
//!
//! Prints allocations and bytes per lookup over COUNT sequential lookups (after a warm-up
//! lookup, so one-time buffers are not counted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use boardnet::dns::{RecordType, Resolver, ResolverOptions};
use boardnet::reactor::Reactor;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn lookup(
    reactor: &mut Reactor,
    resolver: &mut Resolver,
    events: &mut Vec<boardnet::reactor::Ready>,
    name: &str,
) -> usize {
    resolver
        .start(reactor, name, RecordType::A)
        .expect("valid name");
    loop {
        if let Some((_, result)) = resolver.next_done() {
            return result.expect("answer").records.len();
        }
        events.clear();
        reactor.turn(events, None).expect("event loop");
        for ready in events.iter() {
            resolver.handle(reactor, ready);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (Some(server), Some(name)) = (args.next(), args.next()) else {
        eprintln!("usage: dns_alloc SERVER:PORT NAME [COUNT]");
        std::process::exit(2);
    };
    let count: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(1000);
    let options = ResolverOptions {
        servers: Some(vec![server.parse().expect("SERVER:PORT")]),
        ..ResolverOptions::default()
    };
    let mut reactor = Reactor::new().expect("reactor");
    let mut resolver = Resolver::new(options).expect("resolver");
    let mut events = Vec::with_capacity(16);
    let records = lookup(&mut reactor, &mut resolver, &mut events, &name);
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let t0 = Instant::now();
    for _ in 0..count {
        lookup(&mut reactor, &mut resolver, &mut events, &name);
    }
    let took = t0.elapsed();
    let allocs = ALLOCS.load(Ordering::Relaxed) - a0;
    let bytes = BYTES.load(Ordering::Relaxed) - b0;
    println!(
        "{count} lookups of {name} ({records} record(s)): {:.1} allocations and {} bytes per lookup, {:.0} lookups/s",
        allocs as f64 / count as f64,
        bytes / count,
        count as f64 / took.as_secs_f64()
    );
}
