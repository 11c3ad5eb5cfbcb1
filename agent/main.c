/* SPDX-License-Identifier: MIT */
/* placeholder until agent/main.c lands */
int main(void);
int main(void)
{
    return 0;
}
