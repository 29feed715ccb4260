// Unit tests of the LMDB store's durable record and roll-back
// (modules/lmdb/lmdb_durable.h), against a real LMDB environment: the record
// keeps the greater of its two slots and survives a torn one; a last
// commit past the record is rolled back to the recorded one, whose data
// is then what LMDB reads; one at the record is left alone; and a store
// whose older commit is not the recorded one is refused.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <lmdb.h>

#include <cstring>
#include <string>

#include "modules/lmdb/lmdb_durable.h"

// cmocka 1.1 headers lack extern "C" guards.
extern "C" {
#include <cmocka.h>
}

using namespace hf_lmdb;

namespace
{

std::string new_folder()
{
    char dir[] = "/tmp/hf-durable-XXXXXX";
    assert_non_null(mkdtemp(dir));
    return dir;
}

MDB_env *open_env(const std::string &folder)
{
    MDB_env *env = nullptr;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, folder.c_str(), MDB_NOSYNC, 0600), 0);
    return env;
}

// Puts key in its own commit; returns the commit's txnid.
uint64_t put(MDB_env *env, const char *key)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    MDB_val k{strlen(key), const_cast<char *>(key)}, v{1, const_cast<char *>("x")};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    uint64_t id = mdb_txn_id(txn);
    assert_int_equal(mdb_txn_commit(txn), 0);
    return id;
}

bool has(const std::string &folder, const char *key)
{
    MDB_env *env = open_env(folder);
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    MDB_val k{strlen(key), const_cast<char *>(key)}, v;
    bool found = mdb_get(txn, dbi, &k, &v) == 0;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return found;
}

void the_record_keeps_the_greater_whole_slot(void **)
{
    std::string folder = new_folder();
    durable_record r;
    assert_int_equal(durable_open(folder, &r), 0);
    uint64_t id = 0;
    assert_false(durable_read(&r, &id));
    assert_int_equal(durable_write(&r, 41), 0);
    assert_int_equal(durable_write(&r, 42), 0);
    assert_true(durable_read(&r, &id));
    assert_int_equal(id, 42);
    // A torn write of the newer slot: the older one counts.
    uint64_t torn[2] = {43, 0};
    assert_int_equal(pwrite(r.fd, torn, sizeof torn, 0), sizeof torn);
    assert_true(durable_read(&r, &id));
    assert_int_equal(id, 42);
    durable_forget(folder, &r);
    assert_int_equal(access((folder + "/durable").c_str(), F_OK), -1);
}

void a_last_commit_past_the_record_is_rolled_back(void **)
{
    std::string folder = new_folder();
    MDB_env *env = open_env(folder);
    uint64_t synced = put(env, "acknowledged");
    assert_int_equal(mdb_env_sync(env, 1), 0);
    uint64_t unsynced = put(env, "not yet");
    assert_true(unsynced == synced + 1);
    mdb_env_close(env);
    std::string said;
    assert_int_equal(roll_back_unsynced(folder, synced, &said), 0);
    assert_true(said.find("rolled back to txn " + std::to_string(synced)) != std::string::npos);
    assert_true(has(folder, "acknowledged"));
    assert_false(has(folder, "not yet"));
    // Rolled back once: the next open finds nothing to do, and commits go on.
    said.clear();
    assert_int_equal(roll_back_unsynced(folder, synced, &said), 0);
    assert_true(said.empty());
    env = open_env(folder);
    put(env, "after");
    mdb_env_close(env);
    assert_true(has(folder, "after") && has(folder, "acknowledged"));
}

void a_last_commit_at_the_record_is_left_alone(void **)
{
    std::string folder = new_folder();
    MDB_env *env = open_env(folder);
    put(env, "one");
    uint64_t last = put(env, "two");
    mdb_env_close(env);
    std::string said;
    assert_int_equal(roll_back_unsynced(folder, last, &said), 0);
    assert_true(said.empty());
    assert_true(has(folder, "two"));
}

void a_store_two_commits_past_the_record_is_refused(void **)
{
    std::string folder = new_folder();
    MDB_env *env = open_env(folder);
    uint64_t first = put(env, "one");
    put(env, "two");
    put(env, "three");
    mdb_env_close(env);
    std::string said;
    assert_int_equal(roll_back_unsynced(folder, first, &said), -1);
    assert_true(said.find("cannot be rolled back safely") != std::string::npos);
    assert_true(has(folder, "three")); // untouched
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_record_keeps_the_greater_whole_slot),
        cmocka_unit_test(a_last_commit_past_the_record_is_rolled_back),
        cmocka_unit_test(a_last_commit_at_the_record_is_left_alone),
        cmocka_unit_test(a_store_two_commits_past_the_record_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
