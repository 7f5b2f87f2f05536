// proxy/journal.c on its own: the last whole commit survives closing and
// reopening, through growth of the file, and no descriptor is kept (a
// thousand domains' journals must not reach the usual limit of 1024).
#include <errno.h>
#include <gtest/gtest.h>

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

extern "C" {
#include "journal.h"
}

namespace {

int open_fds()
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/xsjournal-XXXXXX";
        path = mkdtemp(tmpl) ? tmpl : "";
    }
    ~TempDir() { (void)!system(("rm -rf " + path).c_str()); }
};

std::string read_back(const std::string &path)
{
    const uint8_t *data = nullptr;
    size_t len = 0;
    char err[256] = "";
    journal *j = journal_open(path.c_str(), &data, &len, err, sizeof(err));
    if (!j)
        return std::string("refused: ") + err;
    std::string s(reinterpret_cast<const char *>(data), len);
    journal_close(j);
    return s;
}

TEST(XsproxyJournal, TheLastCommitSurvivesGrowthAndReopeningWithNoDescriptorKept)
{
    TempDir dir;
    ASSERT_FALSE(dir.path.empty());
    const std::string path = dir.path + "/dom1";
    int fds = open_fds();
    char err[256] = "";
    std::vector<journal *> many;
    for (int i = 0; i < 50; i++) {
        journal *j = journal_create((path + "-" + std::to_string(i)).c_str(), err, sizeof(err));
        ASSERT_NE(nullptr, j) << err;
        many.push_back(j);
    }
    EXPECT_EQ(fds, open_fds()) << "open journals hold descriptors";
    for (journal *j : many)
        journal_close(j);

    journal *j = journal_create(path.c_str(), err, sizeof(err));
    ASSERT_NE(nullptr, j) << err;
    EXPECT_EQ("refused: " + path + ": nothing committed", read_back(path));
    {
        // told apart from a damaged file: recovery removes such a journal
        const uint8_t *none = nullptr;
        size_t n = 0;
        errno = 0;
        EXPECT_EQ(nullptr, journal_open(path.c_str(), &none, &n, err, sizeof(err)));
        EXPECT_EQ(ENODATA, errno);
    }
    ASSERT_EQ(0, journal_commit(j, "small", 5));
    EXPECT_EQ("small", read_back(path));
    // larger than a slot's first place: the file grows, by its path
    std::string big(100000, 'b'), bigger(300000, 'c');
    ASSERT_EQ(0, journal_commit(j, big.data(), big.size()));
    EXPECT_EQ(big, read_back(path));
    ASSERT_EQ(0, journal_commit(j, bigger.data(), bigger.size()));
    ASSERT_EQ(0, journal_commit(j, "again", 5));
    EXPECT_EQ("again", read_back(path));
    journal_close(j);

    // reopened, it goes on from there, growing again
    const uint8_t *data = nullptr;
    size_t len = 0;
    j = journal_open(path.c_str(), &data, &len, err, sizeof(err));
    ASSERT_NE(nullptr, j) << err;
    EXPECT_EQ("again", std::string(reinterpret_cast<const char *>(data), len));
    EXPECT_EQ(fds, open_fds());
    std::string huge(1 << 20, 'h');
    ASSERT_EQ(0, journal_commit(j, huge.data(), huge.size()));
    EXPECT_EQ(huge, read_back(path));
    journal_delete(j);
    EXPECT_NE(0, access(path.c_str(), F_OK)) << "deleted";
    EXPECT_EQ(fds, open_fds());
}

}  // namespace
