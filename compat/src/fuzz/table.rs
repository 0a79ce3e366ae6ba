//! One declarative entry per command Redrock implements (and the fuzzer drives): strings,
//! bitmaps, keyspace, hashes, lists, sets, sorted sets, transactions.
//!
//! Left out, and why:
//! - connection and server commands that change the session or the server (`HELLO`,
//!   `AUTH`, `SELECT`, `QUIT`, `SHUTDOWN`, `CONFIG`…): a case must leave the connection as
//!   it found it, and they are covered by hand-written scripts;
//! - blocking commands outside MULTI: on an empty key they would block the pipeline;
//!   inside MULTI Redis runs them without blocking, so that is where they are generated;
//! - `OBJECT IDLETIME`/`FREQ` and `TIME`: only the reply type could be compared (the
//!   clock), which the tips mask anyway; `OBJECT ENCODING`/`REFCOUNT` are kept (masked
//!   by the reference's tips, their errors are compared).

use super::grammar::{CommandGrammar as C, G, G::*};

const KEYS: G = Many(&Key);
const MEMBERS: G = Many(&Member);
const EXPIRY_CONDITION: G = Opt(&OneOf(&[Lit("NX"), Lit("XX"), Lit("GT"), Lit("LT")]));
/// GT and LT compare a relative expiry with the current one, which a relative expiry set a
/// moment earlier made: `EXPIRE k 5 LT` then `EXPIRE k 5 GT` replies 1 only if the clock
/// ticked between them, on either server (the fuzzer once caught Redis a millisecond on).
/// The absolute forms (EXPIREAT, PEXPIREAT) keep GT and LT.
const RELATIVE_EXPIRY_CONDITION: G = Opt(&OneOf(&[Lit("NX"), Lit("XX")]));
const SET_EXPIRY: G = OneOf(&[
    Seq(&[Lit("EX"), Seconds]),
    Seq(&[Lit("PX"), Millis]),
    Seq(&[Lit("EXAT"), UnixSeconds]),
    Seq(&[Lit("PXAT"), UnixMillis]),
    Lit("KEEPTTL"),
]);
const GETEX_EXPIRY: G = OneOf(&[
    Seq(&[Lit("EX"), Seconds]),
    Seq(&[Lit("PX"), Millis]),
    Seq(&[Lit("EXAT"), UnixSeconds]),
    Seq(&[Lit("PXAT"), UnixMillis]),
    Lit("PERSIST"),
]);
const BIT_UNIT: G = Opt(&OneOf(&[Lit("BYTE"), Lit("BIT")]));
const BITFIELD_TYPE: G = OneOf(&[Lit("u8"), Lit("i8"), Lit("u1"), Lit("i16"), Lit("u63"), Lit("i64"), Lit("u64")]);
const BITFIELD_OFFSET: G = OneOf(&[BitOffset, Lit("#1"), Lit("#0")]);
const BITFIELD_GET: G = Seq(&[Lit("GET"), BITFIELD_TYPE, BITFIELD_OFFSET]);
const BITFIELD_OP: G = OneOf(&[
    BITFIELD_GET,
    Seq(&[Lit("SET"), BITFIELD_TYPE, BITFIELD_OFFSET, Int]),
    Seq(&[Lit("INCRBY"), BITFIELD_TYPE, BITFIELD_OFFSET, Int]),
    Seq(&[Lit("OVERFLOW"), OneOf(&[Lit("WRAP"), Lit("SAT"), Lit("FAIL")])]),
]);
const LCS_OPTION: G = OneOf(&[Lit("LEN"), Lit("IDX"), Seq(&[Lit("MINMATCHLEN"), Int]), Lit("WITHMATCHLEN")]);
const COPY_OPTION: G = OneOf(&[Seq(&[Lit("DB"), OneOf(&[Lit("0"), Lit("1"), Lit("16")])]), Lit("REPLACE")]);
const SCAN_TYPE: G = OneOf(&[Lit("string"), Lit("list"), Lit("hash"), Lit("set"), Lit("zset"), Lit("stream")]);
const LEFT_RIGHT: G = OneOf(&[Lit("LEFT"), Lit("RIGHT")]);
const LPOS_OPTION: G = OneOf(&[Seq(&[Lit("RANK"), Int]), Seq(&[Lit("COUNT"), Int]), Seq(&[Lit("MAXLEN"), Int])]);
const MIN_MAX: G = OneOf(&[Lit("MIN"), Lit("MAX")]);
const ZADD_OPTION: G = OneOf(&[Lit("NX"), Lit("XX"), Lit("GT"), Lit("LT"), Lit("CH"), Lit("INCR")]);
const ZSTORE_OPTIONS: G = Opt(&Seq(&[
    Opt(&Seq(&[Lit("WEIGHTS"), Many(&Float)])),
    Opt(&Seq(&[Lit("AGGREGATE"), OneOf(&[Lit("SUM"), Lit("MIN"), Lit("MAX")])])),
]));
const LIMIT: G = Seq(&[Lit("LIMIT"), Index, Int]);
const ZRANGE_BY: G = OneOf(&[
    Seq(&[Index, Index]),
    Seq(&[ScoreBound, ScoreBound, Lit("BYSCORE")]),
    Seq(&[LexBound, LexBound, Lit("BYLEX")]),
]);
const ZRANGE_TAIL: G = Seq(&[Opt(&Lit("REV")), Opt(&LIMIT)]);

/// Every command the generator knows.
pub const COMMANDS: &[C] = &[
    // strings
    C::new("GET", &[Key]),
    C::new("SET", &[Key, Value, Opt(&OneOf(&[Lit("NX"), Lit("XX")])), Opt(&Lit("GET")), Opt(&SET_EXPIRY)]),
    C::new("SETNX", &[Key, Value]),
    C::new("SETEX", &[Key, Seconds, Value]),
    C::new("PSETEX", &[Key, Millis, Value]),
    C::new("GETSET", &[Key, Value]),
    C::new("GETDEL", &[Key]),
    C::new("GETEX", &[Key, Opt(&GETEX_EXPIRY)]),
    C::new("MGET", &[KEYS]),
    C::new("MSET", &[Many(&Seq(&[Key, Value]))]),
    C::new("MSETNX", &[Many(&Seq(&[Key, Value]))]),
    C::new("APPEND", &[Key, Value]),
    C::new("STRLEN", &[Key]),
    C::new("GETRANGE", &[Key, Index, Index]),
    C::new("SUBSTR", &[Key, Index, Index]),
    C::new("SETRANGE", &[Key, BitOffset, Value]),
    C::new("INCR", &[Key]),
    C::new("DECR", &[Key]),
    C::new("INCRBY", &[Key, Int]),
    C::new("DECRBY", &[Key, Int]),
    C::new("INCRBYFLOAT", &[Key, Float]),
    C::new("LCS", &[Key, Key, Opt(&Many(&LCS_OPTION))]),
    // bitmaps
    C::new("SETBIT", &[Key, BitOffset, OneOf(&[Lit("0"), Lit("1"), Lit("2")])]),
    C::new("GETBIT", &[Key, BitOffset]),
    C::new("BITCOUNT", &[Key, Opt(&Seq(&[Index, Index, BIT_UNIT]))]),
    C::new("BITPOS", &[Key, OneOf(&[Lit("0"), Lit("1")]), Opt(&Seq(&[Index, Opt(&Seq(&[Index, BIT_UNIT]))]))]),
    C::new("BITOP", &[OneOf(&[Lit("AND"), Lit("OR"), Lit("XOR"), Lit("NOT")]), Key, KEYS]),
    C::new("BITFIELD", &[Key, Opt(&Many(&BITFIELD_OP))]),
    C::new("BITFIELD_RO", &[Key, Opt(&Many(&BITFIELD_GET))]),
    // keyspace
    C::new("DEL", &[KEYS]),
    C::new("UNLINK", &[KEYS]),
    C::new("EXISTS", &[KEYS]),
    C::new("TOUCH", &[KEYS]),
    C::new("TYPE", &[Key]),
    C::new("RENAME", &[Key, Key]),
    C::new("RENAMENX", &[Key, Key]),
    C::new("COPY", &[Key, Key, Opt(&Many(&COPY_OPTION))]),
    C::new("MOVE", &[Key, OneOf(&[Lit("1"), Lit("0"), Lit("16"), Lit("x")])]),
    C::new("EXPIRE", &[Key, Seconds, RELATIVE_EXPIRY_CONDITION]),
    C::new("PEXPIRE", &[Key, Millis, RELATIVE_EXPIRY_CONDITION]),
    C::new("EXPIREAT", &[Key, UnixSeconds, EXPIRY_CONDITION]),
    C::new("PEXPIREAT", &[Key, UnixMillis, EXPIRY_CONDITION]),
    C::new("EXPIRETIME", &[Key]).tolerance(1e-8),
    C::new("PEXPIRETIME", &[Key]).tolerance(1e-8),
    C::new("TTL", &[Key]).tolerance(1e-2),
    C::new("PTTL", &[Key]).tolerance(1e-2),
    C::new("PERSIST", &[Key]),
    C::new("KEYS", &[Pattern]).loose(),
    // Loose only to stay out of MULTI: it counts keys SET with a past EXAT differently (a
    // registered divergence), which EXEC's reply would carry past the register.
    C::new("DBSIZE", &[]).loose(),
    C::new("RANDOMKEY", &[]).loose(),
    C::new(
        "SCAN",
        &[
            Lit("0"),
            Opt(&Seq(&[Lit("MATCH"), Pattern])),
            Lit("COUNT"),
            Lit("1000"),
            Opt(&Seq(&[Lit("TYPE"), SCAN_TYPE])),
        ],
    )
    .unordered_deep(),
    C::new("SCAN", &[OneOf(&[Lit("0"), Lit("1"), Lit("x"), Lit("-1")]), Opt(&Seq(&[Lit("COUNT"), Int]))]).loose(),
    C::new("OBJECT ENCODING", &[Key]).loose(),
    C::new("OBJECT REFCOUNT", &[Key]).loose(),
    C::new("FLUSHDB", &[Opt(&OneOf(&[Lit("SYNC"), Lit("ASYNC")]))]),
    C::new("PING", &[Opt(&Value)]),
    C::new("ECHO", &[Value]),
    // hashes
    C::new("HSET", &[Key, Many(&Seq(&[Member, Value]))]),
    C::new("HMSET", &[Key, Many(&Seq(&[Member, Value]))]),
    C::new("HSETNX", &[Key, Member, Value]),
    C::new("HGET", &[Key, Member]),
    C::new("HMGET", &[Key, MEMBERS]),
    C::new("HDEL", &[Key, MEMBERS]),
    C::new("HEXISTS", &[Key, Member]),
    C::new("HLEN", &[Key]),
    C::new("HSTRLEN", &[Key, Member]),
    C::new("HINCRBY", &[Key, Member, Int]),
    C::new("HINCRBYFLOAT", &[Key, Member, Float]),
    C::new("HGETALL", &[Key]).loose(),
    C::new("HKEYS", &[Key]).loose(),
    C::new("HVALS", &[Key]).loose(),
    C::new("HRANDFIELD", &[Key, Opt(&Seq(&[Count, Opt(&Lit("WITHVALUES"))]))]).loose(),
    C::new(
        "HSCAN",
        &[Key, OneOf(&[Lit("0"), Lit("x")]), Opt(&Seq(&[Lit("MATCH"), Pattern])), Opt(&Seq(&[Lit("COUNT"), Int]))],
    )
    .loose(),
    // lists
    C::new("LPUSH", &[Key, Many(&Value)]),
    C::new("RPUSH", &[Key, Many(&Value)]),
    C::new("LPUSHX", &[Key, Many(&Value)]),
    C::new("RPUSHX", &[Key, Many(&Value)]),
    C::new("LPOP", &[Key, Opt(&Int)]),
    C::new("RPOP", &[Key, Opt(&Int)]),
    C::new("LLEN", &[Key]),
    C::new("LINDEX", &[Key, Index]),
    C::new("LSET", &[Key, Index, Value]),
    C::new("LRANGE", &[Key, Index, Index]),
    C::new("LTRIM", &[Key, Index, Index]),
    C::new("LREM", &[Key, Index, Value]),
    C::new("LINSERT", &[Key, OneOf(&[Lit("BEFORE"), Lit("AFTER"), Lit("MIDDLE")]), Value, Value]),
    C::new("LPOS", &[Key, Value, Opt(&Many(&LPOS_OPTION))]),
    C::new("LMOVE", &[Key, Key, LEFT_RIGHT, LEFT_RIGHT]),
    C::new("RPOPLPUSH", &[Key, Key]),
    C::new("LMPOP", &[Counted(&Key), LEFT_RIGHT, Opt(&Seq(&[Lit("COUNT"), Int]))]),
    C::new("BLPOP", &[KEYS, Timeout]).blocking(),
    C::new("BRPOP", &[KEYS, Timeout]).blocking(),
    C::new("BLMOVE", &[Key, Key, LEFT_RIGHT, LEFT_RIGHT, Timeout]).blocking(),
    C::new("BRPOPLPUSH", &[Key, Key, Timeout]).blocking(),
    C::new("BLMPOP", &[Timeout, Counted(&Key), LEFT_RIGHT, Opt(&Seq(&[Lit("COUNT"), Int]))]).blocking(),
    // sets
    C::new("SADD", &[Key, MEMBERS]),
    C::new("SREM", &[Key, MEMBERS]),
    C::new("SCARD", &[Key]),
    C::new("SISMEMBER", &[Key, Member]),
    C::new("SMISMEMBER", &[Key, MEMBERS]),
    C::new("SMEMBERS", &[Key]).loose(),
    C::new("SMOVE", &[Key, Key, Member]),
    C::new("SPOP", &[Key, Opt(&Int)]).random_effect(),
    C::new("SRANDMEMBER", &[Key, Opt(&Count)]).loose(),
    C::new("SINTER", &[KEYS]).loose(),
    C::new("SUNION", &[KEYS]).loose(),
    C::new("SDIFF", &[KEYS]).loose(),
    C::new("SINTERSTORE", &[Key, KEYS]),
    C::new("SUNIONSTORE", &[Key, KEYS]),
    C::new("SDIFFSTORE", &[Key, KEYS]),
    C::new("SINTERCARD", &[Counted(&Key), Opt(&Seq(&[Lit("LIMIT"), Int]))]),
    C::new(
        "SSCAN",
        &[Key, OneOf(&[Lit("0"), Lit("x")]), Opt(&Seq(&[Lit("MATCH"), Pattern])), Opt(&Seq(&[Lit("COUNT"), Int]))],
    )
    .loose(),
    // sorted sets
    C::new("ZADD", &[Key, Opt(&Many(&ZADD_OPTION)), Many(&Seq(&[Float, Member]))]),
    C::new("ZINCRBY", &[Key, Float, Member]),
    C::new("ZREM", &[Key, MEMBERS]),
    C::new("ZCARD", &[Key]),
    C::new("ZSCORE", &[Key, Member]),
    C::new("ZMSCORE", &[Key, MEMBERS]),
    C::new("ZRANK", &[Key, Member]),
    C::new("ZREVRANK", &[Key, Member]),
    C::new("ZCOUNT", &[Key, ScoreBound, ScoreBound]),
    C::new("ZLEXCOUNT", &[Key, LexBound, LexBound]),
    C::new("ZRANGE", &[Key, ZRANGE_BY, ZRANGE_TAIL, Opt(&Lit("WITHSCORES"))]),
    C::new("ZRANGESTORE", &[Key, Key, ZRANGE_BY, ZRANGE_TAIL]),
    C::new("ZREVRANGE", &[Key, Index, Index, Opt(&Lit("WITHSCORES"))]),
    C::new("ZRANGEBYSCORE", &[Key, ScoreBound, ScoreBound, Opt(&Lit("WITHSCORES")), Opt(&LIMIT)]),
    C::new("ZREVRANGEBYSCORE", &[Key, ScoreBound, ScoreBound, Opt(&Lit("WITHSCORES")), Opt(&LIMIT)]),
    C::new("ZRANGEBYLEX", &[Key, LexBound, LexBound, Opt(&LIMIT)]),
    C::new("ZREVRANGEBYLEX", &[Key, LexBound, LexBound, Opt(&LIMIT)]),
    C::new("ZREMRANGEBYRANK", &[Key, Index, Index]),
    C::new("ZREMRANGEBYSCORE", &[Key, ScoreBound, ScoreBound]),
    C::new("ZREMRANGEBYLEX", &[Key, LexBound, LexBound]),
    C::new("ZPOPMIN", &[Key, Opt(&Int)]),
    C::new("ZPOPMAX", &[Key, Opt(&Int)]),
    C::new("ZMPOP", &[Counted(&Key), MIN_MAX, Opt(&Seq(&[Lit("COUNT"), Int]))]),
    C::new("ZUNION", &[Counted(&Key), ZSTORE_OPTIONS, Opt(&Lit("WITHSCORES"))]),
    C::new("ZINTER", &[Counted(&Key), ZSTORE_OPTIONS, Opt(&Lit("WITHSCORES"))]),
    C::new("ZDIFF", &[Counted(&Key), Opt(&Lit("WITHSCORES"))]),
    C::new("ZUNIONSTORE", &[Key, Counted(&Key), ZSTORE_OPTIONS]),
    C::new("ZINTERSTORE", &[Key, Counted(&Key), ZSTORE_OPTIONS]),
    C::new("ZDIFFSTORE", &[Key, Counted(&Key)]),
    C::new("ZINTERCARD", &[Counted(&Key), Opt(&Seq(&[Lit("LIMIT"), Int]))]),
    C::new("ZRANDMEMBER", &[Key, Opt(&Seq(&[Count, Opt(&Lit("WITHSCORES"))]))]).loose(),
    C::new(
        "ZSCAN",
        &[Key, OneOf(&[Lit("0"), Lit("x")]), Opt(&Seq(&[Lit("MATCH"), Pattern])), Opt(&Seq(&[Lit("COUNT"), Int]))],
    )
    .loose(),
    C::new("BZPOPMIN", &[KEYS, Timeout]).blocking(),
    C::new("BZPOPMAX", &[KEYS, Timeout]).blocking(),
    C::new("BZMPOP", &[Timeout, Counted(&Key), MIN_MAX, Opt(&Seq(&[Lit("COUNT"), Int]))]).blocking(),
    // transactions: MULTI/EXEC/DISCARD are generated as blocks (see generate.rs)
    C::new("WATCH", &[KEYS]),
    C::new("UNWATCH", &[]),
];
